import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createStateStore, MemoryStateStore, RedisStateStore } from '../../src/state/index.js';
import { freePort as freePortNobodyListensOn } from '../../../../test/support/free-port.js';

const logger = pino({ level: 'silent' });

describe('createStateStore', () => {
  it('keeps state in memory when no Redis URL is configured', async () => {
    const store = createStateStore({ logger });
    expect(store).toBeInstanceOf(MemoryStateStore);
    await store.ping();
    await store.close();
  });

  it('uses Redis when a URL is configured, and its ping names Redis when nothing answers', async () => {
    const port = await freePortNobodyListensOn();
    const store = createStateStore({ redisUrl: `redis://:secret@127.0.0.1:${port}`, logger });
    try {
      expect(store).toBeInstanceOf(RedisStateStore);
      const started = Date.now();
      const failure = await store.ping().then(
        () => null,
        (err: unknown) => err,
      );
      expect(Date.now() - started).toBeLessThan(2_500);
      expect(failure).toMatchObject({ code: 'dependency_unavailable' });
      const message = (failure as Error).message;
      expect(message).toMatch(/^Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+/);
      expect(message).not.toContain('secret');
    } finally {
      await store.close();
    }
  });
});
