import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataOf, startTestHost, type TestHost } from '../support/host.js';

/** Tenants never see each other: another tenant's ids answer 404, exactly like ids that do not exist. */
describe('tenants', () => {
  const tokenB = `tok_b_${randomBytes(12).toString('hex')}`;
  const admin = `tok_admin_${randomBytes(12).toString('hex')}`;
  let host: TestHost;
  let a: { workspaceId: string; conversationId: string; runId: string };

  beforeAll(async () => {
    host = await startTestHost({
      anthropicApiKey: 'sk-ant-test-tenants-0123456789',
      tokens: { [tokenB]: 'tenant-b' },
      adminTokens: admin,
    });
    const { workspaceId, conversationId } = await host.conversation();
    const events = await host.send(conversationId, 'MOCK:{"text": "hello A"}');
    await host.wc.files.upload(workspaceId, 'notes.txt', 'tenant A only\n');
    const runId = dataOf<{ runId: string }>(events, 'run.started')[0]?.runId ?? '';
    a = { workspaceId, conversationId, runId };
  });

  afterAll(async () => {
    await host?.close();
  });

  it("answers 404 not_found to tenant B on every route that takes tenant A's ids", async () => {
    const { workspaceId: wid, conversationId: cid, runId: rid } = a;
    const routes: [string, string, string?][] = [
      ['GET', `/v1/workspaces/${wid}`],
      ['DELETE', `/v1/workspaces/${wid}`],
      ['GET', `/v1/workspaces/${wid}/files`],
      ['GET', `/v1/workspaces/${wid}/files/notes.txt`],
      ['PUT', `/v1/workspaces/${wid}/files/notes.txt`, 'overwritten by B'],
      ['DELETE', `/v1/workspaces/${wid}/files/notes.txt`],
      ['GET', `/v1/workspaces/${wid}/egress`],
      ['PUT', `/v1/workspaces/${wid}/egress`, JSON.stringify({ hosts: null })],
      ['POST', `/v1/workspaces/${wid}/conversations`, '{}'],
      ['GET', `/v1/workspaces/${wid}/conversations`],
      ['GET', `/v1/conversations/${cid}`],
      ['POST', `/v1/conversations/${cid}/messages`, JSON.stringify({ content: 'from B' })],
      ['GET', `/v1/conversations/${cid}/messages`],
      ['GET', `/v1/conversations/${cid}/runs/${rid}/events`],
      ['POST', `/v1/conversations/${cid}/runs/${rid}/interrupt`],
      ['GET', '/v1/admin/containers'],
    ];
    for (const [method, path, body] of routes) {
      const res = await host.api(path, {
        method,
        token: tokenB,
        ...(body === undefined ? {} : { body }),
        ...(path.includes('/files/') ? { headers: { 'content-type': 'text/plain' } } : {}),
      });
      expect({ method, path, status: res.status }).toEqual({ method, path, status: 404 });
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('not_found');
    }
    // The access_token of EventSource clients is held to the same rule.
    const viaQuery = await host.api(
      `/v1/conversations/${cid}/runs/${rid}/events?access_token=${tokenB}`,
      { token: null },
    );
    expect(viaQuery.status).toBe(404);
  });

  it("leaves tenant A's data as it was, and tenant B's own lists empty", async () => {
    expect(await host.wc.files.text(a.workspaceId, 'notes.txt')).toBe('tenant A only\n');
    const conv = await host.wc.conversations.get(a.conversationId);
    expect(conv.runs.map((r) => r.id)).toEqual([a.runId]);
    expect(await host.as(tokenB).workspaces.list()).toEqual([]);
    expect((await host.wc.workspaces.list()).map((w) => w.id)).toContain(a.workspaceId);
  });

  it('shows every managed container to an admin token, with its state and what the engine says', async () => {
    const containers = await host.as(admin).admin.containers();
    const ws = await host.wc.workspaces.get(a.workspaceId);
    const mine = containers.find((c) => c.id === ws.container?.id);
    expect(mine).toMatchObject({
      state: 'idle',
      workspaceId: a.workspaceId,
      tenant: host.tenant,
      engine: { running: true },
    });
  });
});
