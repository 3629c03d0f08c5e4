import SwaggerParser from '@apidevtools/swagger-parser';
import { afterEach, describe, expect, it } from 'vitest';
import { SseParser } from '../../../../test/support/sse.js';
import { openApiPath } from '../../src/api/openapi.js';
import { ADMIN, TOKEN_A, TOKEN_B, apiHarness, bearer, type ApiHarness } from './support.js';

let h: ApiHarness;
afterEach(async () => {
  await h?.close();
});

const events = (body: string): { id: string | null; event: string; data: string }[] =>
  new SseParser().push(body);

describe('API: authentication and tenants', () => {
  it('takes ?access_token= on the events route only, and never logs it', async () => {
    h = await apiHarness();
    const { conversationId } = await h.conversation();
    const post = await h.app.inject({
      method: 'POST',
      url: `/v1/conversations/${conversationId}/messages`,
      headers: bearer(TOKEN_A),
      payload: { content: 'hi' },
    });
    expect(post.statusCode).toBe(202);
    const { runId } = post.json<{ runId: string }>();
    await h.execute.drain();

    const viaQuery = await h.app.inject(
      `/v1/conversations/${conversationId}/runs/${runId}/events?access_token=${TOKEN_A}`,
    );
    expect(viaQuery.statusCode).toBe(200);
    expect(viaQuery.headers['content-type']).toContain('text/event-stream');
    expect(events(viaQuery.body).at(-1)?.event).toBe('run.completed');

    const elsewhere = await h.app.inject(
      `/v1/conversations/${conversationId}?access_token=${TOKEN_A}`,
    );
    expect(elsewhere.statusCode).toBe(401);
    const wrong = await h.app.inject(
      `/v1/conversations/${conversationId}/runs/${runId}/events?access_token=nope-nope-nope-nope`,
    );
    expect(wrong.statusCode).toBe(401);
    const otherTenant = await h.app.inject(
      `/v1/conversations/${conversationId}/runs/${runId}/events?access_token=${TOKEN_B}`,
    );
    expect(otherTenant.statusCode).toBe(404);

    expect(h.logs.some((l) => l.includes('access_token=[redacted]'))).toBe(true);
    for (const line of h.logs) {
      expect(line).not.toContain(TOKEN_A);
      expect(line).not.toContain(TOKEN_B);
    }
  });

  it('limits requests per tenant per minute: 429 rate_limited with Retry-After, other tenants unaffected', async () => {
    h = await apiHarness({ rateLimitPerMinute: 3 });
    for (let i = 0; i < 3; i += 1)
      expect(
        (await h.app.inject({ url: '/v1/workspaces', headers: bearer(TOKEN_A) })).statusCode,
      ).toBe(200);
    const limited = await h.app.inject({ url: '/v1/workspaces', headers: bearer(TOKEN_A) });
    expect(limited.statusCode).toBe(429);
    expect(limited.json()).toMatchObject({ error: { code: 'rate_limited' } });
    const retryAfter = Number(limited.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(
      (await h.app.inject({ url: '/v1/workspaces', headers: bearer(TOKEN_B) })).statusCode,
    ).toBe(200);
    // Health and metrics are not tenant requests.
    expect((await h.app.inject('/healthz')).statusCode).toBe(200);
  });

  it('shows /v1/admin/containers to admin tokens only (404 to a tenant), joining records with the engine', async () => {
    h = await apiHarness();
    const now = Date.now();
    await h.state.putContainer({
      id: 'c-known',
      slotId: 's1',
      hostId: 'h1',
      image: 'img',
      state: 'idle',
      workspaceId: 'ws_x',
      tenant: 'tenant-a',
      createdAt: now,
      stateChangedAt: now,
      lastRunEndedAt: now,
      runId: null,
    });
    const engine = (id: string, running: boolean) => ({
      id,
      name: id,
      image: 'img',
      labels: { 'workcell.host': 'h1' },
      running,
      paused: false,
      status: running ? 'running' : 'exited',
      exitCode: running ? null : 137,
      oomKilled: !running,
      createdAt: new Date(now),
      startedAt: null,
    });
    h.runtime.containers = [engine('c-known', true), engine('c-orphan', false)];

    const tenant = await h.app.inject({ url: '/v1/admin/containers', headers: bearer(TOKEN_A) });
    expect(tenant.statusCode).toBe(404);
    expect(tenant.json()).toMatchObject({ error: { code: 'not_found' } });

    const admin = await h.app.inject({ url: '/v1/admin/containers', headers: bearer(ADMIN) });
    expect(admin.statusCode).toBe(200);
    const { containers } = admin.json<{
      containers: {
        id: string;
        state: string | null;
        engine: { running: boolean; oomKilled: boolean } | null;
      }[];
    }>();
    expect(containers.find((c) => c.id === 'c-known')).toMatchObject({
      state: 'idle',
      engine: { running: true },
    });
    expect(containers.find((c) => c.id === 'c-orphan')).toMatchObject({
      state: null,
      engine: { running: false, oomKilled: true },
    });
  });
});

describe('API: runs over SSE', () => {
  it('streams a run on the POST, resumes after Last-Event-ID, and answers 204 once nothing follows', async () => {
    h = await apiHarness();
    const { conversationId } = await h.conversation();
    const post = await h.app.inject({
      method: 'POST',
      url: `/v1/conversations/${conversationId}/messages`,
      headers: { ...bearer(TOKEN_A), accept: 'text/event-stream' },
      payload: { content: 'hi' },
    });
    const all = events(post.body);
    expect(all.map((e) => e.id)).toEqual(['1', '2', '3', '4', '5']);
    expect(all[1]).toMatchObject({ event: 'user.message', data: '{"content":"hi"}' });
    const runId = (JSON.parse(all[0]?.data ?? '{}') as { runId: string }).runId;
    const url = `/v1/conversations/${conversationId}/runs/${runId}/events`;

    const resumed = await h.app.inject({
      url,
      headers: { ...bearer(TOKEN_A), 'last-event-id': '2' },
    });
    expect(events(resumed.body).map((e) => e.id)).toEqual(['3', '4', '5']);
    const viaAfter = await h.app.inject({ url: `${url}?after=4`, headers: bearer(TOKEN_A) });
    expect(events(viaAfter.body).map((e) => e.id)).toEqual(['5']);
    const nothing = await h.app.inject({
      url,
      headers: { ...bearer(TOKEN_A), 'last-event-id': '5' },
    });
    expect(nothing.statusCode).toBe(204);
    const bad = await h.app.inject({ url: `${url}?after=x`, headers: bearer(TOKEN_A) });
    expect(bad.statusCode).toBe(400);

    const recorded = await h.app.inject({
      url: `/v1/conversations/${conversationId}/messages`,
      headers: bearer(TOKEN_A),
    });
    expect(
      recorded.json<{ runs: { events: { seq: number }[] }[] }>().runs[0]?.events.map((e) => e.seq),
    ).toEqual([1, 2, 3, 4, 5]);
  });

  it('counts runs, acquires and open SSE clients in /metrics', async () => {
    h = await apiHarness();
    const { conversationId } = await h.conversation();
    await h.app.inject({
      method: 'POST',
      url: `/v1/conversations/${conversationId}/messages`,
      headers: { ...bearer(TOKEN_A), accept: 'text/event-stream' },
      payload: { content: 'hi' },
    });
    const res = await h.app.inject('/metrics');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/plain');
    expect(res.body).toContain('workcell_runs_total{outcome="completed"} 1');
    expect(res.body).toContain('workcell_container_acquire_seconds_count{source="assigned"} 1');
    expect(res.body).toContain('workcell_sse_clients 0');
    expect(res.body).toContain('workcell_containers{state="warm"} 0');
  });
});

describe('API: operations routes', () => {
  it('/health is 200 with every dependency, 503 naming the one that is down', async () => {
    h = await apiHarness();
    const ok = await h.app.inject('/health');
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({
      status: 'ok',
      docker: { ok: true },
      stateStore: { kind: 'memory', ok: true },
      pool: { warm: 0 },
    });
    h.runtime.down = true;
    const down = await h.app.inject('/health');
    expect(down.statusCode).toBe(503);
    expect(down.json()).toMatchObject({
      status: 'degraded',
      docker: { ok: false, error: expect.stringContaining('docker.sock') },
    });
    expect((await h.app.inject('/healthz')).statusCode).toBe(200);
  });

  it('/readyz is 503 while shutting down', async () => {
    h = await apiHarness();
    expect((await h.app.inject('/readyz')).json()).toMatchObject({
      ready: true,
      accepting: true,
      image: { ok: true },
    });
    h.execute.stopAccepting();
    const draining = await h.app.inject('/readyz');
    expect(draining.statusCode).toBe(503);
    expect(draining.json()).toMatchObject({ ready: false, accepting: false });
  });

  it('/openapi.json is a valid OpenAPI document that lists every route the server has', async () => {
    h = await apiHarness();
    const res = await h.app.inject('/openapi.json');
    expect(res.statusCode).toBe(200);
    const doc = res.json<{ paths: Record<string, Record<string, unknown>> }>();
    await SwaggerParser.validate(structuredClone(doc) as never);
    const documented = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`),
    );
    const served = h.app.routeTable.map((r) => `${r.method} ${openApiPath(r.url)}`);
    expect([...new Set(served)].sort()).toEqual([...documented].sort());
  });
});
