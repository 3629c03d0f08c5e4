import type { Logger } from 'pino';
import type { StateStore } from '../state/state-store.js';

export interface RateDecision {
  allowed: boolean;
  /** When the window resets, in whole seconds (the `Retry-After` value). */
  retryAfterSeconds: number;
}

const WINDOW_MS = 60_000;

/**
 * Requests per tenant per minute, counted in the StateStore (so every host sharing it shares
 * the limit) in fixed one-minute windows. A limit of 0 is unlimited. When the StateStore
 * cannot count, the request is let through: the limit protects capacity, and refusing every
 * request while Redis restarts would be worse.
 */
export class TenantRateLimiter {
  constructor(
    private readonly state: StateStore,
    private readonly perMinute: number,
    private readonly logger: Logger,
  ) {}

  async check(tenant: string): Promise<RateDecision> {
    if (this.perMinute <= 0) return { allowed: true, retryAfterSeconds: 0 };
    try {
      const { count, resetInMs } = await this.state.hit(`tenant:${tenant}`, WINDOW_MS);
      return {
        allowed: count <= this.perMinute,
        retryAfterSeconds: Math.max(1, Math.ceil(resetInMs / 1000)),
      };
    } catch (err) {
      this.logger.warn({ tenant, err }, 'rate limit not checked: the state store did not answer');
      return { allowed: true, retryAfterSeconds: 0 };
    }
  }
}
