import { afterEach, describe, expect, it } from 'vitest';
import { TOKEN_A, TOKEN_B, apiHarness, bearer, type ApiHarness } from './support.js';

let h: ApiHarness;
afterEach(async () => {
  await h?.close();
});

/** Public, private and metadata names, as a DNS server (or an attacker's) would answer them. */
const DNS: Record<string, string[]> = {
  'hooks.example.com': ['93.184.216.34'],
  'internal.example.com': ['10.1.2.3'],
  'mixed.example.com': ['93.184.216.34', '192.168.1.10'],
  'metadata.example.com': ['169.254.169.254'],
  'v6-loopback.example.com': ['::1'],
};

async function harness(): Promise<ApiHarness> {
  return apiHarness({
    webhookResolver: async (host) => {
      const answer = DNS[host];
      if (!answer) throw new Error(`${host}: NXDOMAIN`);
      return answer;
    },
  });
}

async function register(
  payload: unknown,
  token = TOKEN_A,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await h.app.inject({
    method: 'POST',
    url: '/v1/webhooks',
    headers: bearer(token),
    payload: payload as Record<string, unknown>,
  });
  return { status: res.statusCode, body: res.json<Record<string, unknown>>() };
}

describe('webhooks API', () => {
  it('registers an endpoint, answers its whsec_ secret once, lists and removes it', async () => {
    h = await harness();
    const created = await register({
      url: 'https://hooks.example.com/workcell?x=1',
      events: ['run.completed', 'workspace.deleted'],
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      url: 'https://hooks.example.com/workcell?x=1',
      events: ['run.completed', 'workspace.deleted'],
    });
    expect(created.body.id).toMatch(/^wh_[A-Za-z0-9]{16}$/);
    expect(created.body.secret).toMatch(/^whsec_[A-Za-z0-9+/=]{32}$/);

    const list = await h.app.inject({
      method: 'GET',
      url: '/v1/webhooks',
      headers: bearer(TOKEN_A),
    });
    expect(list.statusCode).toBe(200);
    const body = list.json<{ webhooks: Record<string, unknown>[]; nextCursor: null }>();
    expect(body.webhooks).toEqual([
      {
        id: created.body.id,
        url: 'https://hooks.example.com/workcell?x=1',
        events: ['run.completed', 'workspace.deleted'],
        createdAt: created.body.createdAt,
      },
    ]);
    expect(list.body).not.toContain(created.body.secret as string);

    const del = await h.app.inject({
      method: 'DELETE',
      url: `/v1/webhooks/${String(created.body.id)}`,
      headers: bearer(TOKEN_A),
    });
    expect(del.statusCode).toBe(204);
    const after = await h.app.inject({
      method: 'GET',
      url: '/v1/webhooks',
      headers: bearer(TOKEN_A),
    });
    expect(after.json<{ webhooks: unknown[] }>().webhooks).toEqual([]);
  });

  it('keeps tenants apart: another tenant neither sees nor removes an endpoint (404)', async () => {
    h = await harness();
    const created = await register({ url: 'https://hooks.example.com/', events: ['run.failed'] });
    const id = String(created.body.id);
    const listB = await h.app.inject({
      method: 'GET',
      url: '/v1/webhooks',
      headers: bearer(TOKEN_B),
    });
    expect(listB.json<{ webhooks: unknown[] }>().webhooks).toEqual([]);
    const delB = await h.app.inject({
      method: 'DELETE',
      url: `/v1/webhooks/${id}`,
      headers: bearer(TOKEN_B),
    });
    expect(delB.statusCode).toBe(404);
    expect(delB.json()).toMatchObject({ error: { code: 'not_found' } });
    const listA = await h.app.inject({
      method: 'GET',
      url: '/v1/webhooks',
      headers: bearer(TOKEN_A),
    });
    expect(listA.json<{ webhooks: { id: string }[] }>().webhooks.map((w) => w.id)).toEqual([id]);
    for (const bad of ['wh_nope', 'wh_AAAAAAAAAAAAAAAA', '..%2f..%2fsecrets']) {
      const res = await h.app.inject({
        method: 'DELETE',
        url: `/v1/webhooks/${bad}`,
        headers: bearer(TOKEN_A),
      });
      expect(res.statusCode).toBe(404);
    }
  });

  it.each([
    ['ftp://hooks.example.com/', 'webhook_url_invalid'],
    ['file:///etc/passwd', 'webhook_url_invalid'],
    ['hooks.example.com/no-scheme', 'webhook_url_invalid'],
    ['https://user:pass@hooks.example.com/', 'webhook_url_invalid'],
    ['https://hooks.example.com/#frag', 'webhook_url_invalid'],
    ['http://127.0.0.1:8080/', 'webhook_url_forbidden'],
    ['http://localhost/', 'webhook_url_forbidden'],
    ['http://2130706433/', 'webhook_url_forbidden'],
    ['http://0x7f.1/', 'webhook_url_forbidden'],
    ['http://[::1]/', 'webhook_url_forbidden'],
    ['http://[::ffff:169.254.169.254]/', 'webhook_url_forbidden'],
    ['http://169.254.169.254/latest/meta-data/', 'webhook_url_forbidden'],
    ['http://10.0.0.1/', 'webhook_url_forbidden'],
    ['http://192.168.1.1/', 'webhook_url_forbidden'],
    ['http://100.64.0.1/', 'webhook_url_forbidden'],
    ['http://0.0.0.0/', 'webhook_url_forbidden'],
    ['http://[fe80::1]/', 'webhook_url_forbidden'],
    ['https://internal.example.com/', 'webhook_url_forbidden'],
    ['https://mixed.example.com/', 'webhook_url_forbidden'],
    ['https://metadata.example.com/', 'webhook_url_forbidden'],
    ['https://v6-loopback.example.com/', 'webhook_url_forbidden'],
    ['https://does-not-resolve.example.com/', 'webhook_url_forbidden'],
  ])('refuses the hostile URL %s with %s and stores nothing', async (url, code) => {
    h = await harness();
    const res = await register({ url, events: ['run.completed'] });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: { code } });
    const list = await h.app.inject({
      method: 'GET',
      url: '/v1/webhooks',
      headers: bearer(TOKEN_A),
    });
    expect(list.json<{ webhooks: unknown[] }>().webhooks).toEqual([]);
  });

  it('refuses unknown events, no events and unknown fields (validation_failed)', async () => {
    h = await harness();
    for (const payload of [
      { url: 'https://hooks.example.com/', events: ['run.started'] },
      { url: 'https://hooks.example.com/', events: [] },
      { url: 'https://hooks.example.com/', events: ['run.failed'], secret: 'mine' },
      { events: ['run.failed'] },
    ]) {
      const res = await register(payload);
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ error: { code: 'validation_failed' } });
    }
  });

  it('caps the endpoints of one tenant at 20 (409 conflict)', async () => {
    h = await harness();
    for (let i = 0; i < 20; i += 1)
      expect(
        (await register({ url: `https://hooks.example.com/${i}`, events: ['run.failed'] })).status,
      ).toBe(201);
    const over = await register({ url: 'https://hooks.example.com/21', events: ['run.failed'] });
    expect(over.status).toBe(409);
    expect(over.body).toMatchObject({ error: { code: 'conflict' } });
    expect(
      (await register({ url: 'https://hooks.example.com/b', events: ['run.failed'] }, TOKEN_B))
        .status,
    ).toBe(201);
  });
});
