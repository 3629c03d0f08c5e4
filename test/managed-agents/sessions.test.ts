import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { docker, startTestHost, type TestHost } from '../support/host.js';
import { sdkFor, streamUntil, userText } from './support.js';

/** Sessions: interrupt, queued messages, history, update, archive, delete, other tenants. */
describe('Managed Agents sessions through the official SDK', () => {
  let host: TestHost;
  let client: Anthropic;
  let agentId: string;
  let environmentId: string;
  const otherToken = `tok_other_${Date.now()}`;

  beforeAll(async () => {
    host = await startTestHost({ tokens: { [otherToken]: 'tenant-b' } });
    client = sdkFor(host, host.token);
    agentId = (
      await client.beta.agents.create({
        name: 'sessions',
        model: 'claude-sonnet-4-6',
        tools: [{ type: 'agent_toolset_20260401' }],
      })
    ).id;
    environmentId = (
      await client.beta.environments.create({
        name: 'closed',
        config: { type: 'cloud', networking: { type: 'limited', allowed_hosts: [] } },
      })
    ).id;
  });
  afterAll(async () => {
    await host?.close();
  });

  const newSession = (title?: string) =>
    client.beta.sessions.create({
      agent: { type: 'agent', id: agentId, version: 1 },
      environment_id: environmentId,
      ...(title ? { title } : {}),
    });

  it('an interrupt stops the turn and the session goes idle', async () => {
    const session = await newSession();
    const stream = await client.beta.sessions.events.stream(session.id);
    await client.beta.sessions.events.send(session.id, {
      events: [userText('MOCK:{"sleep_ms": 60000}\nMOCK:{"text": "too late"}')],
    });
    const seen: string[] = [];
    const started = Date.now();
    for await (const event of stream) {
      seen.push(event.type);
      if (event.type === 'session.status_running') {
        expect((await client.beta.sessions.retrieve(session.id)).status).toBe('running');
        await client.beta.sessions.events.send(session.id, {
          events: [{ type: 'user.interrupt' }],
        });
      }
      if (event.type === 'session.status_idle') break;
    }
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(seen).toContain('user.interrupt');
    expect(seen).not.toContain('agent.message');
    const history = [];
    for await (const e of client.beta.sessions.events.list(session.id)) history.push(e.type);
    expect(history.indexOf('user.interrupt')).toBeLessThan(
      history.lastIndexOf('session.status_idle'),
    );
    expect((await client.beta.sessions.retrieve(session.id)).status).toBe('idle');
  });

  it('messages sent while the agent works are queued and taken in order', async () => {
    const session = await newSession();
    const events = await streamUntil(
      client,
      session.id,
      async () => {
        await client.beta.sessions.events.send(session.id, {
          events: [userText('MOCK:{"sleep_ms": 1500}\nMOCK:{"text": "first"}')],
        });
        await client.beta.sessions.events.send(session.id, { events: [userText('second')] });
        await client.beta.sessions.events.send(session.id, { events: [userText('third')] });
      },
      (_e, seen) => seen.filter((x) => x.type === 'session.status_idle').length === 2,
    );
    const history = [];
    for await (const e of client.beta.sessions.events.list(session.id)) history.push(e);
    const order = history
      .filter((e) => e.type === 'user.message' || e.type === 'session.status_running')
      .map((e) =>
        e.type === 'user.message' && e.content[0]?.type === 'text'
          ? e.content[0].text.slice(0, 12)
          : e.type,
      );
    expect(order).toEqual([
      'MOCK:{"sleep',
      'session.status_running',
      'second',
      'third',
      'session.status_running',
    ]);
    for (const e of history) if (e.type === 'user.message') expect(e.processed_at).not.toBeNull();
    expect(events.filter((e) => e.type === 'agent.message')).toHaveLength(2);
  });

  it('pages through the history', async () => {
    const session = await newSession();
    await streamUntil(client, session.id, () =>
      client.beta.sessions.events.send(session.id, { events: [userText('hello')] }),
    );
    const all = [];
    for await (const e of client.beta.sessions.events.list(session.id)) all.push(e.id);
    const paged = [];
    for await (const e of client.beta.sessions.events.list(session.id, { limit: 2 }))
      paged.push(e.id);
    expect(all.length).toBeGreaterThan(3);
    expect(paged).toEqual(all);
  });

  it('updates, lists, archives (read-only) and deletes a session', async () => {
    const session = await newSession('before');
    const updated = await client.beta.sessions.update(session.id, {
      title: 'after',
      metadata: { k: 'v' },
    });
    expect(updated).toMatchObject({ title: 'after', metadata: { k: 'v' } });
    const listed = [];
    for await (const s of client.beta.sessions.list({ agent_id: agentId })) listed.push(s.id);
    expect(listed).toContain(session.id);

    const other = sdkFor(host, otherToken);
    await expect(other.beta.sessions.retrieve(session.id)).rejects.toBeInstanceOf(
      Anthropic.NotFoundError,
    );
    await expect(
      other.beta.sessions.events.send(session.id, { events: [userText('x')] }),
    ).rejects.toBeInstanceOf(Anthropic.NotFoundError);
    await expect(other.beta.sessions.events.stream(session.id)).rejects.toBeInstanceOf(
      Anthropic.NotFoundError,
    );
    await expect(other.beta.sessions.delete(session.id)).rejects.toBeInstanceOf(
      Anthropic.NotFoundError,
    );

    await streamUntil(client, session.id, () =>
      client.beta.sessions.events.send(session.id, { events: [userText('one turn')] }),
    );
    const archived = await client.beta.sessions.archive(session.id);
    expect(archived.archived_at).not.toBeNull();
    await expect(
      client.beta.sessions.events.send(session.id, { events: [userText('x')] }),
    ).rejects.toBeInstanceOf(Anthropic.ConflictError);
    const history = [];
    for await (const e of client.beta.sessions.events.list(session.id)) history.push(e);
    expect(history.length).toBeGreaterThan(0);

    const workspacesBefore = await host.workcell.catalog.listWorkspaces(host.tenant);
    const workspace = workspacesBefore.find((w) => w.name === 'before');
    const containerId = (await host.wc.workspaces.get(workspace?.id ?? '')).container?.id ?? '';
    expect(containerId).not.toBe('');
    const stream = await client.beta.sessions.events.stream(session.id);
    const deleted = await client.beta.sessions.delete(session.id);
    expect(deleted).toEqual({ id: session.id, type: 'session_deleted' });
    const last = [];
    for await (const e of stream) last.push(e.type);
    expect(last).toEqual(['session.deleted']);
    await expect(client.beta.sessions.retrieve(session.id)).rejects.toBeInstanceOf(
      Anthropic.NotFoundError,
    );
    const workspacesAfter = await host.workcell.catalog.listWorkspaces(host.tenant);
    expect(workspacesAfter.map((w) => w.id)).not.toContain(workspace?.id);
    expect((await docker('ps', '-aq', '--filter', `id=${containerId}`)).trim()).toBe('');
  });
});
