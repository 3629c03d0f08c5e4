import { pino } from 'pino';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { TenantRateLimiter } from '../../packages/host/src/auth/rate-limit.js';
import { redisHarness, type StoreHarness } from './harness.js';

const logger = pino({ level: 'silent' });

describe.each([
  ['redis', () => inject('redisUrl')],
  ['redis cluster', () => inject('redisClusterUrl')],
])('per-tenant rate limit across hosts (%s)', (_name, url) => {
  let h: StoreHarness | null = null;

  afterEach(async () => {
    await h?.close();
    h = null;
  });

  it("counts a tenant's requests on every host against one limit, and other tenants apart", async () => {
    h = redisHarness(url());
    const hostA = new TenantRateLimiter(h.store, 5, logger);
    const hostB = new TenantRateLimiter(h.peer, 5, logger);
    for (let i = 0; i < 3; i += 1) expect((await hostA.check('acme')).allowed).toBe(true);
    expect((await hostB.check('acme')).allowed).toBe(true);
    expect((await hostB.check('acme')).allowed).toBe(true);
    const refused = await hostA.check('acme');
    expect(refused.allowed).toBe(false);
    expect(refused.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(refused.retryAfterSeconds).toBeLessThanOrEqual(60);
    expect((await hostB.check('acme')).allowed).toBe(false);
    expect((await hostB.check('other')).allowed).toBe(true);
  });
});
