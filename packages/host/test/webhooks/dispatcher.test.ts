import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WebhookEventType } from '@workcell/protocol';
import { pino } from 'pino';
import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryStateStore } from '../../src/state/memory-store.js';
import { DirectoryObjectStore } from '../../src/storage/directory-store.js';
import { systemClock } from '../../src/time/clock.js';
import {
  WebhookDispatcher,
  retryDelayMs,
  type DispatcherSettings,
  type WebhookObserver,
} from '../../src/webhooks/dispatcher.js';
import { WebhookEndpointStore, newWebhookId } from '../../src/webhooks/endpoint-store.js';
import { WebhookPublisher } from '../../src/webhooks/publisher.js';
import { newSigningSecret } from '../../src/webhooks/signature.js';
import type { AddressPolicy } from '../../src/webhooks/url-policy.js';

interface Received {
  headers: IncomingMessage['headers'];
  body: string;
}

/** A local receiver answering each request with the next status of `script` (then the last). */
async function receiver(
  answer: (n: number, req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ url: string; received: Received[]; close(): Promise<void> }> {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      answer(received.length, req, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const SETTINGS: DispatcherSettings = {
  timeoutMs: 2_000,
  maxAttempts: 4,
  retryBaseMs: 40,
  retryMaxMs: 200,
  pollIntervalMs: 20,
  batch: 8,
};

function observer(): WebhookObserver & { attempts: string[]; outcomes: string[] } {
  const attempts: string[] = [];
  const outcomes: string[] = [];
  return {
    attempts,
    outcomes,
    webhookAttempt: (r) => attempts.push(r),
    webhookDelivery: (o) => outcomes.push(o),
  };
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(
  options: { policy?: Partial<AddressPolicy>; settings?: Partial<DispatcherSettings> } = {},
) {
  const dir = mkdtempSync(join(tmpdir(), 'wc-webhooks-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const state = new MemoryStateStore();
  const endpoints = new WebhookEndpointStore(new DirectoryObjectStore({ root: dir }));
  const obs = observer();
  const policy: AddressPolicy = {
    allowPrivate: true,
    resolve: async () => ['127.0.0.1'],
    localAddresses: () => new Set(),
    resolveTimeoutMs: 1_000,
    ...options.policy,
  };
  const makeDispatcher = (hostId: string): WebhookDispatcher => {
    const d = new WebhookDispatcher({
      state,
      endpoints,
      operator: null,
      policy,
      clock: systemClock,
      logger: pino({ level: 'silent' }),
      hostId,
      userAgent: 'Workcell-Webhooks/test',
      observer: obs,
      settings: { ...SETTINGS, ...options.settings },
    });
    cleanups.push(() => d.stop());
    return d;
  };
  const dispatcher = makeDispatcher('host-a');
  const publisher = new WebhookPublisher({
    endpoints,
    state,
    clock: systemClock,
    operator: null,
    onEnqueued: () => dispatcher.kick(),
  });
  const addEndpoint = async (url: string, events: WebhookEventType[] = ['run.completed']) => {
    const endpoint = {
      id: newWebhookId(),
      tenant: 't1',
      url,
      events: [...events],
      secret: newSigningSecret(),
      createdAt: new Date().toISOString(),
    };
    await endpoints.create(endpoint);
    return endpoint;
  };
  return { state, endpoints, obs, dispatcher, makeDispatcher, publisher, addEndpoint };
}

async function until(check: () => boolean | Promise<boolean>, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('webhook dispatcher', () => {
  it('delivers a signed POST the reference library verifies, retrying 500s under one id', async () => {
    const server = await receiver((n, _req, res) => res.writeHead(n <= 2 ? 500 : 204).end());
    cleanups.push(server.close);
    const s = await setup();
    const endpoint = await s.addEndpoint(`${server.url}/hook?a=1`);
    s.dispatcher.start();
    await s.publisher.publish('t1', 'run.completed', { workspaceId: 'ws_1', runId: 'run_1' });
    await until(() => s.obs.outcomes.includes('delivered'));

    expect(server.received).toHaveLength(3);
    const ids = new Set(server.received.map((r) => r.headers['webhook-id']));
    expect(ids.size).toBe(1);
    expect([...ids][0]).toMatch(/^msg_/);
    const wh = new Webhook(endpoint.secret);
    for (const r of server.received) {
      const payload = wh.verify(r.body, r.headers as Record<string, string>) as Record<
        string,
        unknown
      >;
      expect(payload).toMatchObject({
        type: 'run.completed',
        data: { tenant: 't1', workspaceId: 'ws_1', runId: 'run_1' },
      });
      expect(r.headers['content-type']).toBe('application/json');
    }
    expect(() =>
      new Webhook(newSigningSecret()).verify(
        server.received[0]?.body ?? '',
        server.received[0]?.headers as Record<string, string>,
      ),
    ).toThrow();
    expect(s.obs.attempts).toEqual(['5xx', '5xx', '2xx']);
    expect(s.obs.outcomes).toEqual(['retried', 'retried', 'delivered']);
    expect(await s.state.countDeliveries()).toBe(0);
  });

  it('only sends an endpoint the events it subscribed to', async () => {
    const server = await receiver((_n, _req, res) => res.writeHead(200).end());
    cleanups.push(server.close);
    const s = await setup();
    await s.addEndpoint(server.url, ['workspace.deleted']);
    s.dispatcher.start();
    await s.publisher.publish('t1', 'run.completed', { workspaceId: 'ws_1' });
    await s.publisher.publish('t2', 'workspace.deleted', { workspaceId: 'ws_2' });
    expect(await s.state.countDeliveries()).toBe(0);
    await s.publisher.publish('t1', 'workspace.deleted', { workspaceId: 'ws_1' });
    await until(() => server.received.length === 1);
  });

  it('gives a delivery up after the last attempt', async () => {
    const server = await receiver((_n, _req, res) => res.writeHead(503).end('down'));
    cleanups.push(server.close);
    const s = await setup({ settings: { maxAttempts: 3 } });
    await s.addEndpoint(server.url);
    s.dispatcher.start();
    await s.publisher.publish('t1', 'run.completed', { workspaceId: 'ws_1' });
    await until(() => s.obs.outcomes.includes('failed'));
    expect(server.received).toHaveLength(3);
    expect(await s.state.countDeliveries()).toBe(0);
  });

  it('does not follow a redirect: a 3xx is a failed attempt', async () => {
    const target = await receiver((_n, _req, res) => res.writeHead(200).end());
    cleanups.push(target.close);
    const server = await receiver((_n, _req, res) =>
      res.writeHead(307, { location: `${target.url}/elsewhere` }).end(),
    );
    cleanups.push(server.close);
    const s = await setup({ settings: { maxAttempts: 2 } });
    await s.addEndpoint(server.url);
    s.dispatcher.start();
    await s.publisher.publish('t1', 'run.completed', { workspaceId: 'ws_1' });
    await until(() => s.obs.outcomes.includes('failed'));
    expect(s.obs.attempts).toEqual(['3xx', '3xx']);
    expect(target.received).toHaveLength(0);
  });

  it('bounds an attempt by the timeout and reads no more than a small part of the answer', async () => {
    let hung = 0;
    const server = await receiver((n, _req, res) => {
      if (n === 1) {
        hung += 1;
        return; // never answers
      }
      res.writeHead(200);
      res.end(Buffer.alloc(8 * 1024 * 1024, 'x'));
    });
    cleanups.push(server.close);
    const s = await setup({ settings: { timeoutMs: 300 } });
    await s.addEndpoint(server.url);
    s.dispatcher.start();
    await s.publisher.publish('t1', 'run.completed', { workspaceId: 'ws_1' });
    await until(() => s.obs.outcomes.includes('delivered'));
    expect(hung).toBe(1);
    expect(s.obs.attempts).toEqual(['error', '2xx']);
  });

  it('checks the resolved address at every attempt: a name rebound to loopback is never dialled', async () => {
    const server = await receiver((_n, _req, res) => res.writeHead(200).end());
    cleanups.push(server.close);
    const port = new URL(server.url).port;
    const s = await setup({
      policy: { allowPrivate: false, resolve: async () => ['127.0.0.1'] },
      settings: { maxAttempts: 2 },
    });
    await s.addEndpoint(`http://rebound.example.com:${port}/`);
    s.dispatcher.start();
    await s.publisher.publish('t1', 'run.completed', { workspaceId: 'ws_1' });
    await until(() => s.obs.outcomes.includes('failed'));
    expect(s.obs.attempts).toEqual(['refused', 'refused']);
    expect(server.received).toHaveLength(0);
  });

  it('never sends to a metadata address, even when private addresses are allowed', async () => {
    const s = await setup({
      policy: { allowPrivate: true, resolve: async () => ['169.254.169.254'] },
      settings: { maxAttempts: 1 },
    });
    await s.addEndpoint('http://metadata.example.com/latest/meta-data/');
    await s.addEndpoint('http://[fd00:ec2::254]/');
    s.dispatcher.start();
    await s.publisher.publish('t1', 'run.completed', { workspaceId: 'ws_1' });
    await until(() => s.obs.outcomes.length === 2);
    expect(s.obs.attempts).toEqual(['refused', 'refused']);
  });

  it('drops the deliveries of an endpoint removed before they went out', async () => {
    const server = await receiver((_n, _req, res) => res.writeHead(200).end());
    cleanups.push(server.close);
    const s = await setup();
    const endpoint = await s.addEndpoint(server.url);
    await s.publisher.publish('t1', 'run.completed', { workspaceId: 'ws_1' });
    await s.endpoints.remove('t1', endpoint.id);
    s.dispatcher.start();
    await until(() => s.obs.outcomes.includes('dropped'));
    expect(server.received).toHaveLength(0);
    expect(await s.state.countDeliveries()).toBe(0);
  });

  it('two dispatchers sharing the outbox send each delivery once', async () => {
    const server = await receiver((_n, _req, res) =>
      setTimeout(() => res.writeHead(200).end(), 30),
    );
    cleanups.push(server.close);
    const s = await setup({ settings: { batch: 3 } });
    await s.addEndpoint(server.url);
    for (let i = 0; i < 20; i += 1)
      await s.publisher.publish('t1', 'run.completed', { workspaceId: `ws_${i}` });
    const other = s.makeDispatcher('host-b');
    s.dispatcher.start();
    other.start();
    await until(() => server.received.length >= 20);
    await new Promise((r) => setTimeout(r, 200));
    const ids = server.received.map((r) => r.headers['webhook-id']);
    expect(ids).toHaveLength(20);
    expect(new Set(ids).size).toBe(20);
  });

  it('backs off exponentially up to the cap', () => {
    const settings = { retryBaseMs: 1_000, retryMaxMs: 10_000 };
    expect([1, 2, 3, 4, 5, 6].map((a) => retryDelayMs(a, settings, () => 0))).toEqual([
      1_000, 2_000, 4_000, 8_000, 10_000, 10_000,
    ]);
    expect(retryDelayMs(1, settings, () => 1)).toBe(1_100);
  });
});
