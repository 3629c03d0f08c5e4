import SwaggerParser from '@apidevtools/swagger-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openApiPath } from '@workcell/host';
import { startTestHost, type TestHost } from '../support/host.js';
import { startScratchRedis, type ScratchRedis } from '../state/redis-server.js';

interface Health {
  status: string;
  docker: { ok: boolean };
  stateStore: { kind: string; ok: boolean; error?: string };
  objectStore: { ok: boolean };
  pool: { warm: number; assigned: number; running: number };
}

/** Health, readiness, metrics and the OpenAPI document of a host on Redis and real Docker. */
describe('operations routes', () => {
  let redis: ScratchRedis;
  let host: TestHost;

  beforeAll(async () => {
    redis = await startScratchRedis();
    host = await startTestHost({
      redisUrl: redis.url,
      anthropicApiKey: 'sk-ant-test-ops-0123456789',
    });
  });

  afterAll(async () => {
    await host?.close();
    await redis?.dispose();
  });

  const health = async (): Promise<{ status: number; body: Health }> => {
    const res = await host.api('/health', { token: null });
    return { status: res.status, body: (await res.json()) as Health };
  };

  it('/health answers 503 naming Redis while Redis is down, and 200 again once it is back', async () => {
    const up = await health();
    expect(up.status).toBe(200);
    expect(up.body).toMatchObject({
      status: 'ok',
      docker: { ok: true },
      stateStore: { kind: 'redis', ok: true },
      objectStore: { ok: true },
    });

    await redis.kill();
    const down = await health();
    expect(down.status).toBe(503);
    expect(down.body.status).toBe('degraded');
    expect(down.body.stateStore).toMatchObject({ kind: 'redis', ok: false });
    expect(down.body.stateStore.error).toMatch(/redis/i);
    expect(down.body.docker.ok).toBe(true);
    expect((await host.api('/readyz', { token: null })).status).toBe(503);
    expect((await host.api('/healthz', { token: null })).status).toBe(200);

    await redis.start();
    let again = await health();
    for (let i = 0; i < 60 && again.status !== 200; i += 1) {
      await new Promise((r) => setTimeout(r, 250));
      again = await health();
    }
    expect(again.status).toBe(200);
    expect(again.body.stateStore).toMatchObject({ kind: 'redis', ok: true });
  });

  it('/readyz answers 200 with Docker, Redis, the object store and the workspace image ready', async () => {
    const res = await host.api('/readyz', { token: null });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      ready: true,
      accepting: true,
      docker: { ok: true },
      stateStore: { ok: true },
      objectStore: { ok: true },
      image: { name: host.workcell.config.image, ok: true },
    });
  });

  it('/metrics reports runs, acquire latency, pool, sync, proxy decisions and SSE clients in Prometheus text', async () => {
    const { conversationId } = await host.conversation();
    const events = await host.send(
      conversationId,
      'MOCK:{"tool": "Write", "input": {"file_path": "m.txt", "content": "metered"}}',
    );
    expect(events.at(-1)?.event).toBe('run.completed');
    const res = await host.api('/metrics', { token: null });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    const value = (pattern: RegExp): number => Number(pattern.exec(text)?.[1] ?? NaN);
    expect(value(/^workcell_runs_total\{outcome="completed"\} (\d+)/m)).toBeGreaterThanOrEqual(1);
    expect(
      value(/^workcell_run_duration_seconds_count\{outcome="completed"\} (\d+)/m),
    ).toBeGreaterThanOrEqual(1);
    expect(
      value(/^workcell_container_acquire_seconds_count\{source="cold"\} (\d+)/m),
    ).toBeGreaterThanOrEqual(1);
    expect(value(/^workcell_containers\{state="idle"\} (\d+)/m)).toBeGreaterThanOrEqual(1);
    expect(value(/^workcell_sync_bytes_total\{direction="out"\} (\d+)/m)).toBeGreaterThanOrEqual(
      'metered'.length,
    );
    expect(
      value(/^workcell_sync_duration_seconds_count\{direction="in"\} (\d+)/m),
    ).toBeGreaterThanOrEqual(1);
    expect(
      value(/^workcell_proxy_requests_total\{decision="allow"\} (\d+)/m),
    ).toBeGreaterThanOrEqual(1);
    expect(value(/^workcell_sse_clients (\d+)/m)).toBe(0);
  });

  it('/openapi.json is a valid OpenAPI document that lists every route the server has', async () => {
    const res = await host.api('/openapi.json', { token: null });
    expect(res.status).toBe(200);
    const doc = (await res.json()) as {
      openapi: string;
      paths: Record<string, Record<string, unknown>>;
    };
    expect(doc.openapi).toBe('3.1.0');
    await SwaggerParser.validate(structuredClone(doc) as never);
    const documented = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`),
    );
    const served = [
      ...new Set(host.workcell.api.routeTable.map((r) => `${r.method} ${openApiPath(r.url)}`)),
    ];
    expect(served.sort()).toEqual(documented.sort());
    for (const route of [
      'POST /v1/conversations/{cid}/messages',
      'GET /v1/workspaces/{wid}/egress',
      'PUT /v1/workspaces/{wid}/files/{path}',
    ]) {
      expect(documented).toContain(route);
    }
  });
});
