import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { startScratchRedis, type ScratchRedis } from '../state/redis-server.js';
import { removeDataDir, startTestHost, type TestHost } from '../support/host.js';

/**
 * Durable data lives in the object store only: a host stopped (and its Redis flushed) loses no
 * workspace, conversation, recorded event or file.
 */
describe.each([
  ['in-memory state', false],
  ['Redis state, flushed between hosts', true],
])('a new host finds everything the old one stored (%s)', (_name, useRedis) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'workcell-durable-'));
  const identity = {
    token: `tok_${randomBytes(16).toString('hex')}`,
    tenant: `t${randomBytes(4).toString('hex')}`,
    hostId: `durable-${randomBytes(3).toString('hex')}`,
  };
  let redis: ScratchRedis | null = null;
  let host: TestHost | null = null;

  afterAll(async () => {
    await host?.close();
    await redis?.dispose();
    await removeDataDir(dataDir);
  });

  it('keeps workspaces, conversations, their messages and files across a restart', async () => {
    if (useRedis) redis = await startScratchRedis();
    const settings = { dataDir, ...identity, ...(redis ? { redisUrl: redis.url } : {}) };
    host = await startTestHost(settings);
    const { workspaceId, conversationId } = await host.conversation();
    await host.api(`/v1/workspaces/${workspaceId}/files/notes.md`, {
      method: 'PUT',
      body: '# notes\n',
    });
    const events = await host.send(
      conversationId,
      'MOCK:{"tool": "Write", "input": {"file_path": "out.txt", "content": "made by the agent\\n"}}',
    );
    expect(events.at(-1)?.event).toBe('run.completed');
    const before = await host.wc.conversations.history(conversationId);
    expect(before.runs).toHaveLength(1);
    await host.close();
    host = null;

    if (redis) {
      const client = new Redis(redis.url);
      await client.flushall();
      client.disconnect();
    }

    host = await startTestHost(settings);
    const workspaces = await host.wc.workspaces.list();
    expect(workspaces.map((w) => w.id)).toEqual([workspaceId]);
    const conversations = await host.wc.conversations.list(workspaceId);
    expect(conversations.map((c) => c.id)).toEqual([conversationId]);
    const conversation = await host.wc.conversations.get(conversationId);
    expect(conversation.runs.map((r) => r.status)).toEqual(['completed']);
    expect(conversation.sessionId).toMatch(/[0-9a-f-]{36}/);
    const after = await host.wc.conversations.history(conversationId);
    expect(after).toEqual(before);
    const files = await host.wc.files.list(workspaceId);
    expect(files.map((f) => f.path).sort()).toEqual(['notes.md', 'out.txt']);
    expect(await (await host.api(`/v1/workspaces/${workspaceId}/files/out.txt`)).text()).toBe(
      'made by the agent\n',
    );

    // And the conversation goes on in the new host, resuming its session.
    const next = await host.send(conversationId, 'MOCK:{"report": "turns"}');
    expect(next.at(-1)?.event).toBe('run.completed');
    expect(JSON.stringify(next.map((e) => e.data))).toContain('prior_user_turns=1');
  });
});
