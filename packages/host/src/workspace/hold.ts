import { WorkcellError, type ErrorBody, type ReadyBasis } from '@workcell/protocol';
import type { Logger } from 'pino';
import type { AcquiredContainer, ColdStart, RunContainers } from '../containers/run-containers.js';
import type { Slot } from '../containers/slots.js';
import type { WorkspaceSync } from '../containers/workspace-sync.js';
import { untilStored, type StoreRetry } from '../dependencies/retry.js';
import type { Dependency } from '../dependencies/watch.js';
import { LEASES, takeLease, type HeldLease } from '../state/leases.js';
import type { StateStore } from '../state/state-store.js';
import type { Clock } from '../time/clock.js';
import { step, StepFailure } from './step.js';

/** What the workspace module reports for metrics. */
export interface WorkspaceObserver {
  /** The container a piece of work got, and how long acquiring it took. */
  containerAcquired(source: AcquiredContainer['source'], durationMs: number): void;
}

export interface WorkspacesDeps {
  containers: RunContainers;
  sync: WorkspaceSync;
  state: StateStore;
  clock: Clock;
  logger: Logger;
  /** The host's container capacity; throws `host_at_capacity` when it cannot take the workspace. */
  admit?: (workspaceId: string) => Promise<void>;
  observer?: WorkspaceObserver;
  /**
   * How the work's sync out, the container's return and the lock wait for a store that went
   * away; without it the first failure counts.
   */
  storeRetry?: StoreRetry;
  settings: {
    /** The workspace lock's TTL; a holder renews it every third of this. */
    lockTtlMs: number;
  };
}

export interface TakeOptions {
  /** Ask the host's capacity first (default true). */
  admit?: boolean;
  /**
   * Take the lock again when a renewal finds it gone and free (the state store restarted
   * empty): for holds that last as long as a run or a command.
   */
  retake?: boolean;
}

/**
 * Holds workspaces for pieces of work (runs, execs, terminals): admission, then the workspace
 * lock; the hold it answers does the rest (README: the failure table).
 */
export class Workspaces {
  constructor(private readonly deps: WorkspacesDeps) {}

  /** The workspace lock's TTL. */
  get lockTtlMs(): number {
    return this.deps.settings.lockTtlMs;
  }

  /**
   * Admits the workspace on this host, then takes its lock for `holder`. Throws
   * `host_at_capacity` when it is not admitted; answers null when another holder has the lock.
   */
  async take(
    workspaceId: string,
    holder: string,
    options: TakeOptions = {},
  ): Promise<WorkspaceHold | null> {
    const { state, clock, logger, settings } = this.deps;
    if (options.admit ?? true) await this.deps.admit?.(workspaceId);
    const lease = await takeLease(
      { state, clock, logger, ...(this.deps.storeRetry ? { retry: this.deps.storeRetry } : {}) },
      {
        name: LEASES.workspace(workspaceId),
        holder,
        ttlMs: settings.lockTtlMs,
        ...(options.retake ? { retake: true } : {}),
      },
    );
    if (!lease) return null;
    return new WorkspaceHold(this.deps, workspaceId, lease);
  }

  /**
   * Syncs out a container no hold owns (a terminal's, when it closes) under the workspace lock,
   * when `current` still says it is the workspace's container. Answers false, doing nothing,
   * when another holder has the lock: that holder's own sync out stores the changes.
   */
  async syncOutUnheld(
    tenant: string,
    workspaceId: string,
    holder: string,
    slot: Slot,
    current: () => Promise<boolean>,
  ): Promise<boolean> {
    const hold = await this.take(workspaceId, holder, { admit: false });
    if (!hold) return false;
    try {
      if (await current()) await this.deps.sync.syncOut(tenant, workspaceId, slot);
      return true;
    } finally {
      await hold.release();
    }
  }
}

/**
 * One piece of work's hold on a workspace: the lock is held from `take` to `release`; `enter`
 * acquires the container and syncs in, `begin` marks it running, `leave` syncs out and hands it
 * back. Each step's failure is one row of the README's failure table.
 */
export class WorkspaceHold {
  private acquired: AcquiredContainer | null = null;
  private tenant = '';
  private begun = false;
  private readonly log: Logger;

  constructor(
    private readonly deps: WorkspacesDeps,
    readonly workspaceId: string,
    private readonly lease: HeldLease,
  ) {
    this.log = deps.logger.child({ workspaceId, holder: lease.holder });
  }

  /** The lock's holder id (the run's or exec's id, or a purpose's holder). */
  get holder(): string {
    return this.lease.holder;
  }

  /** The container once `enter` succeeded; null before, and after a failed sync in removed it. */
  get container(): AcquiredContainer | null {
    return this.acquired;
  }

  /**
   * Acquires the workspace's container and syncs its files in (a container created for it gets
   * them before it starts, and its agent starts Claude Code for `ready`, the run to come, as it
   * boots). Throws `container_start_failed` when no container comes, `sync_failed` when the sync
   * in fails (the container is removed).
   */
  async enter(tenant: string, ready?: ReadyBasis): Promise<AcquiredContainer> {
    const { containers, sync, observer } = this.deps;
    let coldSyncFailure: unknown = null;
    const cold: ColdStart = {
      syncIn: (slot) =>
        sync.syncIn(tenant, this.workspaceId, slot).catch((err: unknown) => {
          coldSyncFailure = err;
          throw err;
        }),
      ...(ready ? { ready } : {}),
    };
    let acquired: AcquiredContainer;
    try {
      // The run is accepted: a state store that fails over meanwhile is waited for.
      acquired = await step('container_start_failed', 'acquiring a container', () =>
        this.stored('stateStore', 'container acquire', () =>
          containers.acquire(tenant, this.workspaceId, cold),
        ),
      );
    } catch (err) {
      // The new container and its half-written slot are gone with the failed start.
      if (coldSyncFailure !== null)
        throw new StepFailure(
          'sync_failed',
          `syncing files in: ${coldSyncFailure instanceof Error ? coldSyncFailure.message : String(coldSyncFailure)}`,
        );
      throw err;
    }
    observer?.containerAcquired(acquired.source, acquired.acquireMs);
    this.log.info(
      { containerId: acquired.record.id, source: acquired.source, acquireMs: acquired.acquireMs },
      'container acquired',
    );
    if (!acquired.syncedIn) {
      try {
        await step('sync_failed', 'syncing files in', () =>
          sync.syncIn(tenant, this.workspaceId, acquired.slot),
        );
      } catch (err) {
        // A half-written slot cannot be trusted: its next sync out would store the mix.
        await this.remove(acquired, 'sync in failed');
        throw err;
      }
    }
    this.acquired = acquired;
    this.tenant = tenant;
    return acquired;
  }

  /**
   * Takes over the container that still runs the hold's run (the holder id) after the host
   * running it went away: no acquire, no sync in (the container has the files), and it counts
   * as begun, so `leave` syncs out once and hands it back. Throws `container_lost` when the
   * container is gone or cannot be reached.
   */
  async reenter(tenant: string, containerId: string): Promise<AcquiredContainer> {
    let acquired: AcquiredContainer | null;
    try {
      acquired = await this.deps.containers.reattach(tenant, containerId, this.lease.holder);
    } catch (err) {
      const code =
        err instanceof WorkcellError && err.code === 'host_lost' ? 'host_lost' : 'container_lost';
      throw new StepFailure(
        code,
        `reaching the run container: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    if (!acquired)
      throw new StepFailure('container_lost', `the container of run ${this.lease.holder} is gone`);
    this.log.info({ containerId }, 'container of a run in progress taken over');
    this.acquired = acquired;
    this.tenant = tenant;
    this.begun = true;
    return acquired;
  }

  /**
   * Lets go of the hold without ending its work (the host stops; the work goes on in its
   * container and another host takes it over): no sync out, no hand-back, the lock left to
   * expire or to be taken by the work's own id.
   */
  async detach(): Promise<void> {
    this.acquired = null;
    this.begun = false;
    await this.lease.abandon();
  }

  /** Marks the entered container running for the hold; throws `container_failed` when it cannot. */
  async begin(): Promise<void> {
    const acquired = this.acquired;
    if (!acquired) throw new StepFailure('container_failed', 'no container was acquired');
    const began = await step('container_failed', 'marking the container running', () =>
      this.deps.containers.beginRun(acquired.record.id, this.lease.holder),
    );
    if (!began)
      throw new StepFailure('container_failed', 'the container is not available for the work');
    this.begun = true;
  }

  /**
   * Ends the work in the container: syncs out when it was marked running (unless `syncOut` is
   * false: nothing ran), then hands it back, idle, or removes it when `keep` is false. A failed
   * sync out keeps the container whatever `keep` says (its slot holds the only copy of the
   * changes) and is answered as `sync_failed`. Never throws; a second call does nothing.
   */
  async leave(options: {
    keep: boolean;
    /** What the container was used for, in the log and the removal reason. */
    reason: string;
    syncOut?: boolean;
  }): Promise<ErrorBody | null> {
    const acquired = this.acquired;
    if (!acquired) return null;
    this.acquired = null;
    const { sync } = this.deps;
    let keep = options.keep;
    let error: ErrorBody | null = null;
    if (this.begun && (options.syncOut ?? true)) {
      try {
        await step('sync_failed', 'syncing files out', () =>
          this.stored('objectStore', 'sync out', () =>
            sync.syncOut(this.tenant, this.workspaceId, acquired.slot, this.lease.holder),
          ),
        );
        this.log.info({ containerId: acquired.record.id }, 'files synced out');
      } catch (err) {
        error = (err as StepFailure).body;
        this.log.error(
          { err, containerId: acquired.record.id },
          'sync out failed; the container keeps the files',
        );
        keep = true;
      }
    }
    await this.handBack(acquired, keep, options.reason);
    return error;
  }

  /** Releases the workspace lock (idempotent). */
  release(): Promise<void> {
    return this.lease.release();
  }

  /** `call`, retried while its store is unavailable (`storeRetry`). */
  private stored<T>(dependency: Dependency, what: string, call: () => Promise<T>): Promise<T> {
    const retry = this.deps.storeRetry;
    return retry ? untilStored(retry, dependency, what, call) : call();
  }

  private async handBack(
    acquired: AcquiredContainer,
    keep: boolean,
    reason: string,
  ): Promise<void> {
    const { containers } = this.deps;
    const id = acquired.record.id;
    try {
      if (!keep) await containers.remove(id, `failed during ${reason}`);
      else if (this.begun)
        await this.stored('stateStore', 'container return', () => containers.endRun(id));
    } catch (err) {
      this.log.error({ containerId: id, err }, 'returning the container failed');
      try {
        await containers.markFailed(id, `could not be returned after ${reason}`);
      } catch (markErr) {
        // GC finds the container by its state and removes it; nothing else can be done here.
        this.log.error({ containerId: id, err: markErr }, 'marking the container failed failed');
      }
    }
    this.begun = false;
  }

  private async remove(acquired: AcquiredContainer, reason: string): Promise<void> {
    try {
      await this.deps.containers.remove(acquired.record.id, reason);
    } catch (err) {
      this.log.error({ containerId: acquired.record.id, err }, 'removing the container failed');
      await this.deps.containers
        .markFailed(acquired.record.id, reason)
        .catch((markErr: unknown) =>
          this.log.error({ err: markErr }, 'marking the container failed failed'),
        );
    }
  }
}
