import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { untilStored, type StoreRetry } from '../dependencies/retry.js';
import type { Clock } from '../time/clock.js';
import type { StateStore } from './state-store.js';

/**
 * Every lease name, built here and nowhere else (the StateStore turns a name into its key in
 * `keys.ts`).
 *
 * | lease                  | held by                                        | holder id             |
 * |------------------------|------------------------------------------------|-----------------------|
 * | `run:<wid>`            | the workspace lock: a run, an exec, a terminal acquiring or syncing out, a files write, an archive upload, a retire, a delete | the run or exec id, or `leaseHolder(...)` |
 * | `pool:<image>@<scope>` | the host refilling that warm pool              | `leaseHolder('pool')` |
 * | `gc:<scope>`           | the host running a GC pass over that data dir  | `leaseHolder('gc')`   |
 * | `terminal:<wid>`       | the host with the workspace's open terminals   | `leaseHolder('terminal')` |
 * | `session:<sid>`        | a change to one Managed Agents session record  | `leaseHolder('session')` |
 * | `session-turns:<sid>`  | the host taking that session's turns           | `leaseHolder('session')` |
 *
 * The workspace lock is `LEASES.workspace` in code; its stored name stays `run:<wid>` (the Redis
 * key `<p>:{ws:<wid>}:lease:run`), so hosts of earlier versions sharing the StateStore during a
 * rolling upgrade still exclude each other.
 *
 * `<scope>` is a data directory's scope id (`containers/scope.ts`): hosts that share a data
 * directory share its warm pools and take turns at its GC; hosts with data directories of their
 * own refill and collect at once.
 */
export const LEASES = {
  /**
   * One workspace's lock: whatever must not overlap a run (a run, an exec, a files write, a
   * retire, a delete). Stored as `run:<wid>`, the name every deployed host uses.
   */
  workspace: (workspaceId: string): string => `run:${workspaceId}`,
  /**
   * One warm pool's refill lease (`pool` is the pool's name, `<image>@<scope>`): one host refills
   * it at a time, so hosts do not overfill.
   */
  pool: (pool: string): string => `pool:${pool}`,
  /** One GC pass at a time over the containers of one data directory scope. */
  gc: (scope: string): string => `gc:${scope}`,
  /**
   * Held while a workspace has an open terminal (by the host that holds its container): its
   * container is not retired (idle timeout, capacity) while it is held. Never blocks a run.
   */
  terminal: (workspaceId: string): string => `terminal:${workspaceId}`,
  /** A read-modify-write of one Managed Agents session's record, from any host. */
  session: (sessionId: string): string => `session:${sessionId}`,
  /** The host taking one Managed Agents session's turns: one at a time, wherever sent. */
  sessionTurns: (sessionId: string): string => `session-turns:${sessionId}`,
  /**
   * Held by the host attached to a run in progress (holder `attach:<hostId>`): a host carries
   * on a run whose host went away only once this is free (handed over, or expired).
   */
  attach: (runId: string): string => `attach:${runId}`,
} as const;

export const workspaceLockName = LEASES.workspace;

/** The workspace lock's TTL: its holder renews it every third of this; a crashed host's lock frees after it. */
export const WORKSPACE_LOCK_TTL_MS = 30_000;
export const poolLeaseName = LEASES.pool;
export const gcLeaseName = LEASES.gc;

/** Who takes a lease besides a run or an exec (they hold the workspace lock under their own id). */
export type LeasePurpose = 'retire' | 'gc' | 'pool' | 'files' | 'delete' | 'terminal' | 'session';

/** A holder id unique to one taking of a lease: `<purpose>:<hostId>:<random>`. */
export function leaseHolder(purpose: LeasePurpose, hostId: string): string {
  return `${purpose}:${hostId}:${randomBytes(6).toString('hex')}`;
}

/** How often a held lease is renewed: a third of its TTL (at least every second). */
export function renewEveryMs(ttlMs: number): number {
  return Math.max(1000, Math.floor(ttlMs / 3));
}

export interface LeaseDeps {
  state: StateStore;
  clock: Clock;
  logger: Logger;
  /**
   * How renewals and the release wait for a StateStore that went away: a renewal is retried
   * until the next one is due, the release up to the retry deadline.
   */
  retry?: StoreRetry;
}

export interface LeaseSpec {
  name: string;
  holder: string;
  ttlMs: number;
  /**
   * Take the lease again when a renewal finds it gone (the state store restarted empty) and
   * free. For a lease held across a long job that must not be interleaved (a run).
   */
  retake?: boolean;
}

/** A lease this process holds and renews until `release`. */
export interface HeldLease {
  readonly name: string;
  readonly holder: string;
  /** Stops renewing, waits for a renewal in flight, and releases (a failure is logged: the lease expires by itself). */
  release(): Promise<void>;
  /**
   * Stops renewing and leaves the lease as it is, to expire or to be taken again under the same
   * holder id (work handed to another process).
   */
  abandon(): Promise<void>;
}

/** Takes a lease and renews it every third of its TTL; null when someone else holds it. */
export async function takeLease(deps: LeaseDeps, spec: LeaseSpec): Promise<HeldLease | null> {
  const { state, clock, logger, retry } = deps;
  const { name, holder, ttlMs } = spec;
  if (!(await state.acquireLease(name, holder, ttlMs))) return null;
  let renewing: Promise<void> = Promise.resolve();
  const renewal = (): Promise<boolean> =>
    retry
      ? untilStored(
          { ...retry, deadlineMs: renewEveryMs(ttlMs) },
          'stateStore',
          'lease renewal',
          () => state.renewLease(name, holder, ttlMs),
        )
      : state.renewLease(name, holder, ttlMs);
  const renew = async (): Promise<void> => {
    try {
      if (await renewal()) return;
      if (spec.retake && (await state.acquireLease(name, holder, ttlMs))) return;
      logger.error({ lease: name, holder }, 'a held lease was lost');
    } catch (err) {
      logger.warn({ lease: name, err }, 'lease renewal failed');
    }
  };
  const timer = clock.every(renewEveryMs(ttlMs), () => {
    renewing = renew();
  });
  let released: Promise<void> | null = null;
  return {
    name,
    holder,
    async abandon() {
      timer.cancel();
      await renewing;
    },
    release() {
      released ??= (async () => {
        timer.cancel();
        // A renewal still in flight could take the lease again after it is released.
        await renewing;
        try {
          if (retry)
            await untilStored(retry, 'stateStore', 'lease release', () =>
              state.releaseLease(name, holder),
            );
          else await state.releaseLease(name, holder);
        } catch (err) {
          logger.warn({ lease: name, err }, 'releasing a lease failed; it expires by itself');
        }
      })();
      return released;
    },
  };
}

/**
 * Holds a lease while `work` runs: takes it, renews it, and releases it however `work` ends.
 * Answers `{ held: false }` without running `work` when someone else holds it.
 */
export async function withLease<T>(
  deps: LeaseDeps,
  spec: LeaseSpec,
  work: () => Promise<T>,
): Promise<{ held: true; value: T } | { held: false }> {
  const lease = await takeLease(deps, spec);
  if (!lease) return { held: false };
  try {
    return { held: true, value: await work() };
  } finally {
    await lease.release();
  }
}
