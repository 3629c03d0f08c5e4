import { WorkcellError } from '@workcell/protocol';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { TenantRateLimiter } from '../../src/auth/rate-limit.js';
import { MemoryStateStore } from '../../src/state/memory-store.js';

const logger = pino({ level: 'silent' });

describe('TenantRateLimiter', () => {
  it('allows the limit per tenant per minute, then answers when the window resets', async () => {
    let now = 1_000_000;
    const limiter = new TenantRateLimiter(new MemoryStateStore({ now: () => now }), 2, logger);
    expect((await limiter.check('a')).allowed).toBe(true);
    expect((await limiter.check('a')).allowed).toBe(true);
    now += 15_000;
    expect(await limiter.check('a')).toEqual({ allowed: false, retryAfterSeconds: 45 });
    expect((await limiter.check('b')).allowed).toBe(true);
    now += 45_000;
    expect((await limiter.check('a')).allowed).toBe(true);
  });

  it('is unlimited at 0', async () => {
    const limiter = new TenantRateLimiter(new MemoryStateStore(), 0, logger);
    for (let i = 0; i < 100; i += 1) expect((await limiter.check('a')).allowed).toBe(true);
  });

  it('lets requests through when the state store cannot count', async () => {
    const state = new MemoryStateStore();
    state.hit = async () => {
      throw new WorkcellError('dependency_unavailable', 'redis is down');
    };
    expect((await new TenantRateLimiter(state, 1, logger).check('a')).allowed).toBe(true);
  });
});
