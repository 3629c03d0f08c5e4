import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { S3ObjectStore } from '../../packages/host/src/storage/s3-store.js';
import { dataOf, startTestHost, type TestHost } from '../support/host.js';
import { resultOf, workspaceWith } from './support.js';

/**
 * Agent settings, the user's side of the history and usage live in the object store: a new
 * host (same S3 store and Redis, its own containers) finds them and a new container runs with
 * the same settings.
 */
describe('agent settings, history and usage survive a host restart and a new container', () => {
  const identity = {
    token: `tok_${randomBytes(16).toString('hex')}`,
    tenant: `t${randomBytes(4).toString('hex')}`,
  };
  const prefix = `agent-durable-${randomBytes(4).toString('hex')}`;
  const objects = (): S3ObjectStore =>
    new S3ObjectStore({
      bucket: inject('s3Bucket'),
      endpoint: inject('s3Endpoint'),
      prefix,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });
  const settings = {
    ...identity,
    redisUrl: inject('redisUrl'),
    model: 'claude-team-a',
    modelsAllowed: 'claude-team-a,claude-team-b',
  };
  let host: TestHost | null = null;

  afterAll(async () => {
    await host?.close();
  });

  it('finds the settings, the whole conversation and the usage on the next host', async () => {
    host = await startTestHost({ ...settings, options: { objects: objects() } });
    const agent = {
      model: 'claude-team-b',
      appendSystemPrompt: 'Durable rule DUR-MARKER-1.',
      env: { DUR: 'kept' },
    };
    const { workspaceId, conversationId } = await workspaceWith(host, agent);
    await host.api(`/v1/workspaces/${workspaceId}/files/CLAUDE.md`, {
      method: 'PUT',
      body: 'Durable project rule DUR-MARKER-2.\n',
    });
    expect(resultOf(await host.send(conversationId, 'MOCK:{"echo": "model"}'))).toBe(
      'claude-team-b',
    );
    const firstContainer = (await host.wc.workspaces.get(workspaceId)).container?.id;
    expect(firstContainer).toBeTruthy();
    await host.close();
    host = null;

    host = await startTestHost({ ...settings, options: { objects: objects() } });
    const view = await host.wc.agent.get(workspaceId);
    expect(view.settings).toEqual(agent);
    const events = await host.send(
      conversationId,
      'MOCK:{"echo": "context", "grep": "DUR-MARKER-"}\nMOCK:{"echo": "model"}',
    );
    const text = resultOf(events);
    expect(text).toContain('Durable rule DUR-MARKER-1.');
    expect(text).toContain('Durable project rule DUR-MARKER-2.');
    expect(text.split('\n').at(-1)).toBe('claude-team-b');
    expect(dataOf<{ agent: unknown }>(events, 'run.started')[0]?.agent).toMatchObject(agent);
    const secondContainer = (await host.wc.workspaces.get(workspaceId)).container?.id;
    expect(secondContainer).toBeTruthy();
    expect(secondContainer).not.toBe(firstContainer);

    const history = await host.wc.conversations.history(conversationId);
    expect(history.runs.map((r) => r.events.slice(0, 2).map((e) => e.event))).toEqual([
      ['run.started', 'user.message'],
      ['run.started', 'user.message'],
    ]);
    expect(history.runs[0]?.events[1]?.data).toEqual({ content: 'MOCK:{"echo": "model"}' });

    const usage = await host.wc.usage.workspace(workspaceId);
    expect(usage.totals.runs).toBe(2);
    expect(usage.totals.runTimeMs).toBeGreaterThan(0);
    expect(usage.totals.inputTokens).toBeGreaterThan(0);
    expect(usage.days.find((d) => d.model === 'claude-team-b')?.runs).toBe(2);
    const tenant = await host.wc.usage.tenant();
    expect(tenant.totals.runs).toBe(2);
  });
});
