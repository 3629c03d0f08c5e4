import { WorkcellError } from '@workcell/protocol';
import type { Logger } from 'pino';
import type { Clock } from '../time/clock.js';
import type { Dependency, DependencyWatch } from './watch.js';

/** The first retry waits this long; each next one twice as long, up to `MAX_BACKOFF_MS`. */
export const FIRST_BACKOFF_MS = 200;
export const MAX_BACKOFF_MS = 2_000;

/** How a write on a run's path waits for a store that went away. */
export interface StoreRetry {
  clock: Clock;
  logger: Logger;
  /** How long after the first failure the call is given up (its last error thrown). */
  deadlineMs: number;
  /** Told of each failure, so `/readyz` and new work see the outage at once. */
  watch?: DependencyWatch;
}

/**
 * True for a failure that `dependency` coming back cures: its `dependency_unavailable` (the
 * store names itself in the error's details), or an error caused by one (a sync out that
 * failed on its store). Another dependency's failure (Docker) is not retried here.
 */
export function isUnavailable(err: unknown, dependency: Dependency): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 8; depth += 1) {
    if (
      e instanceof WorkcellError &&
      e.code === 'dependency_unavailable' &&
      e.details?.dependency === dependency
    )
      return true;
    e = e.cause;
  }
  return false;
}

/**
 * Runs `call` until it works, again and again with backoff (200 ms doubling to 2 s) while it
 * fails with `dependency_unavailable`, for at most `deadlineMs` after the first failure; any
 * other failure, or the deadline, throws. For writes a run cannot lose (its events, its records,
 * its files): `call` must be safe to run twice (a timed-out write may still land).
 */
export async function untilStored<T>(
  retry: StoreRetry,
  dependency: Dependency,
  what: string,
  call: () => Promise<T>,
): Promise<T> {
  const { clock, logger, deadlineMs, watch } = retry;
  let firstFailure: number | null = null;
  let backoff = FIRST_BACKOFF_MS;
  for (;;) {
    try {
      const value = await call();
      if (firstFailure !== null)
        logger.info(
          { dependency, what, waitedMs: clock.now() - firstFailure },
          'store write went through after the store came back',
        );
      return value;
    } catch (err) {
      if (!isUnavailable(err, dependency)) throw err;
      watch?.failed(dependency, err);
      const now = clock.now();
      if (firstFailure === null) {
        firstFailure = now;
        logger.warn({ dependency, what, err }, 'store unavailable; retrying with backoff');
      }
      if (now - firstFailure >= deadlineMs) {
        logger.error({ dependency, what, deadlineMs }, 'store still unavailable; giving up');
        throw err;
      }
      await clock.sleep(Math.min(backoff, deadlineMs - (now - firstFailure)));
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
    }
  }
}
