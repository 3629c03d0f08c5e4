import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataOf, startTestHost, type TestHost } from '../support/host.js';

/**
 * A hostile tenant holding another tenant's ids gets 404 from every route, exactly as for
 * ids that do not exist, and changes nothing. Tenant A owns a workspace with a file, a
 * conversation and a finished run; tenant B tries every route with A's ids. Each row also
 * runs as A, which must not answer 404: a route that is missing would otherwise pass.
 */

interface Row {
  method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  /** The route as registered, `:wid`, `:cid`, `:rid`, `:id` (a webhook) and `*` standing for A's ids and file. */
  route: string;
  /** `:wid` and `:rid` in it stand for A's workspace and run ids too. */
  body?: string;
  accept?: string;
  /** Sends the token as `?access_token=` instead of the Authorization header. */
  queryToken?: boolean;
}

const TABLE: Row[] = [
  { method: 'GET', route: '/v1/workspaces/:wid' },
  { method: 'GET', route: '/v1/workspaces/:wid/files' },
  { method: 'GET', route: '/v1/workspaces/:wid/files/*' },
  { method: 'PUT', route: '/v1/workspaces/:wid/files/*', body: 'overwritten by another tenant' },
  { method: 'DELETE', route: '/v1/workspaces/:wid/files/*' },
  { method: 'GET', route: '/v1/workspaces/:wid/archive' },
  { method: 'POST', route: '/v1/workspaces/:wid/archive', body: 'not even an archive' },
  { method: 'GET', route: '/v1/workspaces/:wid/egress' },
  { method: 'PUT', route: '/v1/workspaces/:wid/egress', body: '{"hosts": []}' },
  { method: 'GET', route: '/v1/workspaces/:wid/agent' },
  { method: 'PUT', route: '/v1/workspaces/:wid/agent', body: '{"appendSystemPrompt": "b"}' },
  { method: 'GET', route: '/v1/workspaces/:wid/usage' },
  { method: 'GET', route: '/v1/workspaces/:wid/snapshots' },
  { method: 'POST', route: '/v1/workspaces/:wid/snapshots', body: '{}' },
  {
    method: 'POST',
    route: '/v1/workspaces/:wid/restore',
    body: '{"snapshotId": "snap_1111111111111aaaaaaaaaaaa"}',
  },
  { method: 'POST', route: '/v1/workspaces/:wid/fork', body: '{}' },
  { method: 'GET', route: '/v1/workspaces/:wid/secrets' },
  { method: 'GET', route: '/v1/workspaces/:wid/secrets/:name' },
  {
    method: 'PUT',
    route: '/v1/workspaces/:wid/secrets/:name',
    body: '{"value": "b-value", "hosts": ["api.example.org"]}',
  },
  { method: 'DELETE', route: '/v1/workspaces/:wid/secrets/:name' },
  {
    method: 'POST',
    route: '/v1/workspaces/:wid/exec',
    body: '{"command": ["sh", "-c", "echo overwritten > notes/a.txt"]}',
  },
  {
    method: 'POST',
    route: '/v1/workspaces/:wid/exec',
    body: '{"command": ["sh", "-c", "echo overwritten > notes/a.txt"]}',
    accept: 'text/event-stream',
  },
  // Without an upgrade the terminal route answers 400 to its owner: the tenant check comes first.
  { method: 'GET', route: '/v1/workspaces/:wid/terminal' },
  { method: 'GET', route: '/v1/workspaces/:wid/terminal', queryToken: true },
  { method: 'GET', route: '/v1/workspaces/:wid/conversations' },
  { method: 'POST', route: '/v1/workspaces/:wid/conversations', body: '{}' },
  { method: 'GET', route: '/v1/conversations/:cid' },
  { method: 'GET', route: '/v1/conversations/:cid/messages' },
  { method: 'GET', route: '/v1/conversations/:cid/runs' },
  {
    method: 'POST',
    route: '/v1/conversations/:cid/messages',
    body: '{"content": "MOCK:{\\"text\\": \\"b\\"}"}',
  },
  {
    method: 'POST',
    route: '/v1/conversations/:cid/messages',
    body: '{"content": "MOCK:{\\"text\\": \\"b\\"}"}',
    accept: 'text/event-stream',
  },
  { method: 'GET', route: '/v1/conversations/:cid/runs/:rid/events', accept: 'text/event-stream' },
  {
    method: 'GET',
    route: '/v1/conversations/:cid/runs/:rid/events',
    accept: 'text/event-stream',
    queryToken: true,
  },
  { method: 'POST', route: '/v1/conversations/:cid/runs/:rid/interrupt' },
  { method: 'POST', route: '/v1/conversations/:cid/fork', body: '{"atRunId": ":rid"}' },
  {
    method: 'POST',
    route: '/v1/conversations/:cid/rewind',
    body: '{"toRunId": ":rid", "files": true}',
  },
  { method: 'GET', route: '/v1/conversations/:cid/approvals' },
  {
    method: 'POST',
    route: '/v1/conversations/:cid/approvals/:approvalId',
    body: '{"decision": "allow"}',
  },
  {
    method: 'POST',
    route: '/v1/conversations/:cid/tool-results/:callId',
    body: '{"content": "b"}',
  },
  { method: 'DELETE', route: '/v1/webhooks/:id' },
  // The workspace id is in the body: no ticket for another tenant's workspace.
  { method: 'POST', route: '/v1/tickets', body: '{"workspaceId": ":wid", "purpose": "terminal"}' },
  { method: 'POST', route: '/v1/tickets', body: '{"workspaceId": ":wid", "purpose": "events"}' },
  // Last: A's workspace must survive B's attempt for every row above.
  { method: 'DELETE', route: '/v1/workspaces/:wid' },
];

const label = (row: Row): string =>
  `${row.method} ${row.route}${row.accept ? ` (${row.accept})` : ''}${row.queryToken ? ' ?access_token' : ''}${row.route === '/v1/tickets' ? ` ${row.body ?? ''}` : ''}`;

describe('API tenant isolation: tenant B gets 404 for every route with tenant A ids', () => {
  let host: TestHost;
  const tokenB = `tok_b_${randomBytes(16).toString('hex')}`;
  const adminToken = `tok_admin_${randomBytes(16).toString('hex')}`;
  let ids: { wid: string; cid: string; rid: string; hid: string; file: string };
  let fabricated: { wid: string; cid: string; rid: string; hid: string; file: string };

  const path = (row: Row, values: typeof ids, token: string): string => {
    const p = row.route
      .replace(':wid', values.wid)
      .replace(':cid', values.cid)
      .replace(':rid', values.rid)
      .replace(':name', 'api')
      .replace(':id', values.hid)
      .replace('*', values.file);
    return row.queryToken ? `${p}?access_token=${encodeURIComponent(token)}` : p;
  };

  const call = async (
    row: Row,
    values: typeof ids,
    token: string,
  ): Promise<{ status: number; body: string }> => {
    const headers: Record<string, string> = {};
    if (row.accept) headers.accept = row.accept;
    if (row.body !== undefined)
      headers['content-type'] = row.route.includes('/files/') ? 'text/plain' : 'application/json';
    const res = await host.api(path(row, values, token), {
      method: row.method,
      headers,
      body: row.body?.replace(':wid', values.wid).replace(':rid', values.rid),
      token: row.queryToken ? null : token,
      signal: AbortSignal.timeout(15_000),
    });
    // An event stream that (wrongly) opened would not end by itself.
    const body = (res.headers.get('content-type') ?? '').includes('text/event-stream')
      ? '(event stream)'
      : await res.text();
    if (body === '(event stream)') await res.body?.cancel();
    return { status: res.status, body };
  };

  beforeAll(async () => {
    host = await startTestHost({
      anthropicApiKey: 'sk-ant-tenant-test-0123456789',
      tokens: { [tokenB]: 'tenant-b' },
      adminTokens: adminToken,
      secretsKey: randomBytes(32).toString('base64'),
      // Webhook hosts resolve to a public address; nothing here publishes an event to it.
      options: { webhookResolver: async () => ['93.184.216.34'] },
    });
    const { workspaceId, conversationId } = await host.conversation();
    const put = await host.api(`/v1/workspaces/${workspaceId}/files/notes/a.txt`, {
      method: 'PUT',
      body: 'tenant A data\n',
      headers: { 'content-type': 'text/plain' },
    });
    expect(put.status).toBe(201);
    const secret = await host.api(`/v1/workspaces/${workspaceId}/secrets/api`, {
      method: 'PUT',
      body: JSON.stringify({ value: 'tenant-a-secret-value', hosts: ['api.example.org'] }),
      headers: { 'content-type': 'application/json' },
    });
    expect(secret.status).toBe(201);
    const events = await host.send(conversationId, 'MOCK:{"text": "hello A"}');
    expect(events.at(-1)?.event).toBe('run.completed');
    const rid = dataOf<{ runId: string }>(events, 'run.started')[0]?.runId ?? '';
    const hook = await host.wc.webhooks.create({
      url: 'https://hooks.example.com/a',
      events: ['workspace.deleted'],
    });
    ids = { wid: workspaceId, cid: conversationId, rid, hid: hook.id, file: 'notes/a.txt' };
    const swap = (id: string): string =>
      `${id.slice(0, id.indexOf('_') + 1)}${randomBytes(8).toString('hex')}`;
    fabricated = {
      wid: swap(workspaceId),
      cid: swap(conversationId),
      rid: swap(rid),
      hid: `wh_${randomBytes(8).toString('hex')}`,
      file: 'notes/a.txt',
    };
  });

  afterAll(async () => {
    await host?.close();
  });

  it('covers every route that takes a workspace, conversation, run or webhook id', () => {
    const routes = host.workcell.api.routeTable
      .filter((r) => /:wid|:cid|:rid|^\/v1\/webhooks\/:id/.test(r.url))
      .map((r) => `${r.method} ${r.url}`);
    const covered = new Set(TABLE.map((row) => `${row.method} ${row.route}`));
    expect(routes.length).toBeGreaterThan(0);
    for (const route of routes) expect(covered, `${route} is not in the table`).toContain(route);
  });

  it.each(TABLE.map((row) => [label(row), row] as const))('%s', async (_label, row) => {
    const asB = await call(row, ids, tokenB);
    expect(asB.status).toBe(404);
    // The same answer as for ids that do not exist: nothing tells B that A's ids are real.
    const unknown = await call(row, fabricated, tokenB);
    expect(asB).toEqual(unknown);
    expect(JSON.parse(asB.body)).toMatchObject({ error: { code: 'not_found' } });

    // A's data is untouched.
    const file = await host.api(`/v1/workspaces/${ids.wid}/files/${ids.file}`);
    expect(file.status).toBe(200);
    expect(await file.text()).toBe('tenant A data\n');
    const conversation = await host.wc.conversations.get(ids.cid);
    expect(conversation.runs).toHaveLength(1);
    const egress = await host.wc.egress.get(ids.wid);
    expect(egress.hosts).toBeNull();
    const secrets = await host.wc.secrets.workspace.list(ids.wid);
    expect(secrets.map((x) => [x.name, x.hosts])).toEqual([['api', ['api.example.org']]]);
    const conversations = await host.wc.conversations.list(ids.wid);
    expect(conversations).toHaveLength(1);
    expect((await host.wc.webhooks.list()).map((w) => w.id)).toEqual([ids.hid]);

    // The route exists and A may use it (not a 404 for its owner).
    if (row.method === 'GET' || row.route.endsWith('/interrupt')) {
      const asA = await call(row, ids, host.token);
      expect(asA.status, asA.body).not.toBe(404);
      expect(asA.status, asA.body).toBeLessThan(500);
    }
  });

  it("tenant B's listing does not include A's workspace", async () => {
    const res = await host.api('/v1/workspaces', { token: tokenB });
    expect(res.status).toBe(200);
    const { workspaces } = (await res.json()) as { workspaces: { id: string }[] };
    expect(workspaces.map((w) => w.id)).not.toContain(ids.wid);
    const own = await host.wc.workspaces.list();
    expect(own.map((w) => w.id)).toContain(ids.wid);
  });

  it("a tenant token cannot see the operator's container list (404, as if the route did not exist)", async () => {
    const asB = await host.api('/v1/admin/containers', { token: tokenB });
    expect(asB.status).toBe(404);
    const noRoute = await host.api('/v1/admin/no-such-route', { token: tokenB });
    expect(noRoute.status).toBe(404);
    const asAdmin = await host.api('/v1/admin/containers', { token: adminToken });
    expect(asAdmin.status).toBe(200);
    const { containers } = (await asAdmin.json()) as {
      containers: { workspaceId: string | null }[];
    };
    expect(containers.map((c) => c.workspaceId)).toContain(ids.wid);
  });

  it('tenant A can still delete its own workspace after all of that', async () => {
    const res = await host.api(`/v1/workspaces/${ids.wid}`, { method: 'DELETE' });
    expect(res.status).toBe(204);
    expect((await host.api(`/v1/workspaces/${ids.wid}`)).status).toBe(404);
  });
});
