import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { DirectoryObjectStore } from '../../packages/host/src/storage/directory-store.js';
import { systemClock } from '../../packages/host/src/time/clock.js';
import {
  WebhookDispatcher,
  WebhookEndpointStore,
  WebhookPublisher,
} from '../../packages/host/src/webhooks/index.js';
import { newWebhookId } from '../../packages/host/src/webhooks/endpoint-store.js';
import { newSigningSecret } from '../../packages/host/src/webhooks/signature.js';
import { redisHarness, type StoreHarness } from './harness.js';

/**
 * Hosts sharing one Redis share one webhook outbox: each delivery goes out once while they all
 * poll it, on one server and on a cluster.
 */
describe.each([
  ['redis', () => inject('redisUrl')],
  ['redis cluster', () => inject('redisClusterUrl')],
])('webhook outbox shared by three hosts: %s', (_name, url) => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('sends each delivery once while three dispatchers poll the same outbox', async () => {
    const seen: string[] = [];
    const server: Server = createServer((req, res) => {
      seen.push(String(req.headers['webhook-id']));
      req.resume();
      req.on('end', () => setTimeout(() => res.writeHead(204).end(), 20));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(
      () =>
        new Promise<void>((r) => {
          server.closeAllConnections();
          server.close(() => r());
        }),
    );
    const dir = mkdtempSync(join(tmpdir(), 'wc-outbox-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const endpoints = new WebhookEndpointStore(new DirectoryObjectStore({ root: dir }));
    await endpoints.create({
      id: newWebhookId(),
      tenant: 't1',
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
      events: ['run.completed'],
      secret: newSigningSecret(),
      createdAt: new Date().toISOString(),
    });

    const h: StoreHarness = redisHarness(url());
    cleanups.push(() => h.close());
    // Two clients of one Redis, as two hosts hold; the third dispatcher shares the second's.
    const stores = [h.store, h.peer, h.peer];
    const publisher = new WebhookPublisher({
      endpoints,
      state: h.store,
      clock: systemClock,
      operator: null,
    });
    for (let i = 0; i < 40; i += 1)
      await publisher.publish('t1', 'run.completed', { workspaceId: `ws_${i}` });

    for (const [i, state] of stores.entries()) {
      const d = new WebhookDispatcher({
        state,
        endpoints,
        operator: null,
        policy: {
          allowPrivate: true,
          resolve: async () => ['127.0.0.1'],
          localAddresses: () => new Set(),
          resolveTimeoutMs: 1_000,
        },
        clock: systemClock,
        logger: pino({ level: 'silent' }),
        hostId: `host-${i}`,
        userAgent: 'test',
        settings: {
          timeoutMs: 2_000,
          maxAttempts: 3,
          retryBaseMs: 50,
          retryMaxMs: 100,
          pollIntervalMs: 10,
          batch: 4,
        },
      });
      cleanups.push(() => d.stop());
      d.start();
    }
    const end = Date.now() + 20_000;
    while ((await h.store.countDeliveries()) > 0 && Date.now() < end)
      await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 200));
    expect(seen).toHaveLength(40);
    expect(new Set(seen).size).toBe(40);
  });
});
