import { describe, expect, it } from 'vitest';
import { MemoryStateStore } from '../../src/state/memory-store.js';

describe('MemoryStateStore on an injected clock', () => {
  it('holds a lease until exactly its TTL has passed, as Redis PX does', async () => {
    let now = 10_000;
    const store = new MemoryStateStore({ now: () => now });
    expect(await store.acquireLease('gc', 'a', 1_000)).toBe(true);
    now += 999;
    expect(await store.getLeaseHolder('gc')).toBe('a');
    now += 1;
    expect(await store.getLeaseHolder('gc')).toBeNull();
    expect(await store.acquireLease('gc', 'b', 1_000)).toBe(true);
  });

  it('answers the time left in a rate-limit window from the clock', async () => {
    let now = 0;
    const store = new MemoryStateStore({ now: () => now });
    expect(await store.hit('k', 1_000)).toEqual({ count: 1, resetInMs: 1_000 });
    now = 400;
    expect(await store.hit('k', 1_000)).toEqual({ count: 2, resetInMs: 600 });
    now = 1_000;
    expect(await store.hit('k', 1_000)).toEqual({ count: 1, resetInMs: 1_000 });
  });

  it('drops a run buffer exactly when its expiry passes', async () => {
    let now = 0;
    const store = new MemoryStateStore({ now: () => now, sweepIntervalMs: 100 });
    await store.appendRunEvent('r1', { seq: 1, event: 'message', data: '{}' });
    await store.expireRunEvents('r1', 50);
    now = 49;
    expect(await store.readRunEvents('r1', 0)).toHaveLength(1);
    now = 50;
    expect(await store.readRunEvents('r1', 0)).toEqual([]);
  });
});
