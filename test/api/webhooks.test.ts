import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeDataDir, startTestHost, type TestHost } from '../support/host.js';
import { startScratchRedis, type ScratchRedis } from '../state/redis-server.js';

interface Delivery {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** The status this receiver answered. */
  status: number;
}

/** A webhook receiver on loopback that answers what `status()` says at each request. */
async function startReceiver(status: (path: string, id: string) => number): Promise<{
  url: string;
  deliveries: Delivery[];
  close(): Promise<void>;
}> {
  const deliveries: Delivery[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '/';
      const answer = status(path, String(req.headers['webhook-id']));
      deliveries.push({
        path,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        status: answer,
      });
      res.writeHead(answer).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    deliveries,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

async function until<T>(what: string, check: () => T | undefined, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const typeOf = (d: Delivery): string => (JSON.parse(d.body) as { type: string }).type;

describe('webhooks end to end: signed deliveries, retries and a restart, on Redis and real Docker', () => {
  let redis: ScratchRedis;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let host: TestHost | null = null;
  const dataDir = mkdtempSync(join(tmpdir(), 'workcell-webhooks-'));
  const token = `tok_${randomBytes(16).toString('hex')}`;
  const tenant = `t${randomBytes(4).toString('hex')}`;
  const operatorSecret = `whsec_${randomBytes(32).toString('base64')}`;
  /** How many 500s the tenant endpoints answer to each delivery before a 200; Infinity: always 500. */
  let failFirst = 2;
  const attemptsById = new Map<string, number>();

  const start = (): Promise<TestHost> =>
    startTestHost({
      redisUrl: redis.url,
      dataDir,
      token,
      tenant,
      anthropicApiKey: 'sk-ant-test-webhooks-0123456789',
      runTimeoutMs: 4_000,
      webhookAllowPrivate: 'true',
      webhookRetryBaseMs: 300,
      webhookUrl: `${receiver.url}/operator`,
      webhookSecret: operatorSecret,
    });

  beforeAll(async () => {
    redis = await startScratchRedis();
    receiver = await startReceiver((path, id) => {
      if (path.startsWith('/operator')) return 200;
      const n = (attemptsById.get(id) ?? 0) + 1;
      attemptsById.set(id, n);
      return n <= failFirst ? 500 : 200;
    });
    host = await start();
  });

  afterAll(async () => {
    await host?.close();
    await receiver?.close();
    await redis?.dispose();
    await removeDataDir(dataDir);
  });

  it('delivers run.failed and run.completed to the tenant and the operator, verified by the reference library, after retrying 500s', async () => {
    const h = host as TestHost;
    const endpoint = await h.wc.webhooks.create({
      url: `${receiver.url}/tenant-hooks`,
      events: ['run.completed', 'run.failed'],
    });
    expect(endpoint.secret).toMatch(/^whsec_/);
    const { workspaceId, conversationId } = await h.conversation();
    const failed = await h.send(conversationId, 'MOCK:{"sleep_ms": 30000}');
    expect(failed.at(-1)?.event).toBe('run.failed');
    const completed = await h.send(conversationId, 'MOCK:{"text": "hooked"}');
    expect(completed.at(-1)?.event).toBe('run.completed');

    const delivered = (path: string, type: string): Delivery | undefined =>
      receiver.deliveries.find((d) => d.path === path && d.status === 200 && typeOf(d) === type);
    const tenantFailed = await until('run.failed', () => delivered('/tenant-hooks', 'run.failed'));
    const tenantCompleted = await until('run.completed', () =>
      delivered('/tenant-hooks', 'run.completed'),
    );

    const verifier = new Webhook(endpoint.secret);
    const failedPayload = verifier.verify(
      tenantFailed.body,
      tenantFailed.headers as Record<string, string>,
    );
    expect(failedPayload).toMatchObject({
      type: 'run.failed',
      data: { tenant, workspaceId, conversationId, error: { code: 'run_timeout' } },
    });
    expect(
      verifier.verify(tenantCompleted.body, tenantCompleted.headers as Record<string, string>),
    ).toMatchObject({
      type: 'run.completed',
      data: { tenant, workspaceId, conversationId, summary: { result: 'hooked' } },
    });
    // Each delivery met two 500s: three attempts of one id, one body.
    for (const done of [tenantFailed, tenantCompleted]) {
      const attempts = receiver.deliveries.filter(
        (d) => d.headers['webhook-id'] === done.headers['webhook-id'],
      );
      expect(attempts.map((d) => d.status)).toEqual([500, 500, 200]);
      expect(new Set(attempts.map((d) => d.body)).size).toBe(1);
    }

    // The operator's endpoint hears both events of the tenant, under its own secret.
    const operator = new Webhook(operatorSecret);
    const operatorTypes = await until('operator deliveries', () => {
      const got = receiver.deliveries.filter((d) => d.path === '/operator');
      return got.length >= 2 ? got : undefined;
    });
    expect(
      operatorTypes
        .map(
          (d) =>
            (operator.verify(d.body, d.headers as Record<string, string>) as { type: string }).type,
        )
        .sort(),
    ).toEqual(['run.completed', 'run.failed']);
    expect(() =>
      operator.verify(tenantCompleted.body, tenantCompleted.headers as Record<string, string>),
    ).toThrow();

    const metrics = await h.wc.metrics();
    expect(metrics).toMatch(/workcell_webhook_deliveries_total\{outcome="delivered"\} [4-9]/);
    expect(metrics).toMatch(/workcell_webhook_deliveries_total\{outcome="retried"\} 4/);
    expect(metrics).toMatch(/workcell_webhook_attempts_total\{result="5xx"\} 4/);
  });

  it('keeps a delivery the receiver refused across a host restart and delivers it under the same id', async () => {
    const h = host as TestHost;
    failFirst = Number.POSITIVE_INFINITY;
    const endpoint = await h.wc.webhooks.create({
      url: `${receiver.url}/deletions`,
      events: ['workspace.deleted'],
    });
    const ws = await h.wc.workspaces.create({ name: 'to delete' });
    await h.wc.workspaces.delete(ws.id);
    const refused = await until('a refused attempt', () =>
      receiver.deliveries.find((d) => d.path === '/deletions' && d.status === 500),
    );
    await h.close();
    host = null;

    failFirst = 0;
    host = await start();
    const delivered = await until('the delivery after the restart', () =>
      receiver.deliveries.find(
        (d) =>
          d.path === '/deletions' &&
          d.status === 200 &&
          d.headers['webhook-id'] === refused.headers['webhook-id'],
      ),
    );
    expect(
      new Webhook(endpoint.secret).verify(
        delivered.body,
        delivered.headers as Record<string, string>,
      ),
    ).toMatchObject({ type: 'workspace.deleted', data: { tenant, workspaceId: ws.id } });
    // The endpoint itself is durable too: the new host lists it.
    expect((await host.wc.webhooks.list()).map((w) => w.id)).toContain(endpoint.id);
  });
});

describe('webhook URL policy on a host that allows no private addresses', () => {
  let host: TestHost;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;

  beforeAll(async () => {
    receiver = await startReceiver(() => 200);
    host = await startTestHost({ anthropicApiKey: 'sk-ant-test-webhooks-0123456789' });
  });

  afterAll(async () => {
    await host?.close();
    await receiver?.close();
  });

  it('refuses hostile webhook URLs with stable codes and registers nothing', async () => {
    const port = new URL(receiver.url).port;
    const cases: [string, string][] = [
      [`http://127.0.0.1:${port}/`, 'webhook_url_forbidden'],
      [`http://localhost:${port}/`, 'webhook_url_forbidden'],
      [`http://[::1]:${port}/`, 'webhook_url_forbidden'],
      [`http://2130706433:${port}/`, 'webhook_url_forbidden'],
      ['http://169.254.169.254/latest/meta-data/', 'webhook_url_forbidden'],
      ['http://[::ffff:a9fe:a9fe]/', 'webhook_url_forbidden'],
      ['http://10.0.0.1/', 'webhook_url_forbidden'],
      ['http://172.17.0.1/', 'webhook_url_forbidden'],
      ['ftp://example.com/', 'webhook_url_invalid'],
      ['https://user:secret@example.com/', 'webhook_url_invalid'],
      ['not a url', 'webhook_url_invalid'],
    ];
    for (const [url, code] of cases) {
      const res = await host.api('/v1/webhooks', {
        method: 'POST',
        body: JSON.stringify({ url, events: ['run.completed'] }),
      });
      expect(res.status, url).toBe(400);
      expect(await res.json(), url).toMatchObject({ error: { code } });
    }
    expect(await host.wc.webhooks.list()).toEqual([]);
    expect(receiver.deliveries).toEqual([]);
  });
});
