import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { RedisStateStore } from '../../packages/host/src/state/index.js';
import { startScratchRedis } from './redis-server.js';
import { testPrefix } from './harness.js';

/** Runs `call` until it resolves or `timeoutMs` passes; answers how long it took. */
async function untilWorks(call: () => Promise<unknown>, timeoutMs: number): Promise<number> {
  const started = Date.now();
  for (;;) {
    try {
      await call();
      return Date.now() - started;
    } catch (err) {
      if (Date.now() - started > timeoutMs) throw err;
      await sleep(100);
    }
  }
}

/** A pino logger whose lines land in `lines`. */
function capturingLogger(lines: { level: number; msg: string }[]) {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) {
        lines.push(JSON.parse(line) as { level: number; msg: string });
      }
      done();
    },
  });
  return pino({ level: 'info' }, sink);
}

describe('RedisStateStore against a Redis that fails', () => {
  it('runs its scripts again after Redis forgot them (SCRIPT FLUSH)', async () => {
    const redis = await startScratchRedis();
    const store = new RedisStateStore({ url: redis.url, keyPrefix: testPrefix() });
    const admin = new Redis(redis.url);
    try {
      expect(await store.acquireLease('gc', 'host-a', 60_000)).toBe(true);
      expect(await admin.script('FLUSH')).toBe('OK');

      expect(await store.acquireLease('gc', 'host-b', 60_000)).toBe(false);
      expect(await store.releaseLease('gc', 'host-a')).toBe(true);
      expect(await store.hit('ip:1', 60_000)).toMatchObject({ count: 1 });
    } finally {
      admin.disconnect();
      await store.close();
      await redis.dispose();
    }
  });

  it('reports Redis down within about 2 s and works again by itself once Redis is back', async () => {
    const redis = await startScratchRedis();
    const lines: { level: number; msg: string }[] = [];
    const store = new RedisStateStore({
      url: redis.url,
      keyPrefix: testPrefix(),
      logger: capturingLogger(lines),
    });
    try {
      await store.ping();
      expect(await store.acquireLease('gc', 'host-a', 60_000)).toBe(true);

      await redis.kill();

      const pingStarted = Date.now();
      const pingError = await store.ping().then(
        () => null,
        (err: unknown) => err,
      );
      expect(Date.now() - pingStarted).toBeLessThan(2_500);
      expect(pingError).toMatchObject({
        code: 'dependency_unavailable',
        message: expect.stringMatching(/Redis/),
      });

      const callStarted = Date.now();
      await expect(store.acquireLease('gc', 'host-a', 60_000)).rejects.toMatchObject({
        code: 'dependency_unavailable',
        message: expect.stringMatching(/Redis at redis:\/\/127\.0\.0\.1/),
      });
      expect(Date.now() - callStarted).toBeLessThan(5_000);

      await redis.start();
      const recoveredInMs = await untilWorks(() => store.ping(), 5_000);
      expect(recoveredInMs).toBeLessThan(5_000);

      // The restarted Redis has no data and no scripts: the lease is free and scripts load again.
      expect(await store.getLeaseHolder('gc')).toBeNull();
      expect(await store.acquireLease('gc', 'host-b', 60_000)).toBe(true);
      expect(await store.getLeaseHolder('gc')).toBe('host-b');

      const messages = lines.map((l) => l.msg);
      expect(messages.filter((m) => m.includes('Redis connection failed'))).toHaveLength(1);
      expect(messages).toContain('Redis connection restored');
    } finally {
      await store.close();
      await redis.dispose();
    }
  });
});
