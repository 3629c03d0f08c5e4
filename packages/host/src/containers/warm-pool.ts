import type { Logger } from 'pino';
import { LEASES, leaseHolder, takeLease } from '../state/leases.js';
import type { ContainerRecord, StateStore } from '../state/state-store.js';
import type { Clock, Timer } from '../time/clock.js';
import type { EgressListeners } from './egress-listeners.js';
import type { Orchestrator, OrchestratorSettings } from './orchestrator.js';
import { LABELS, type ContainerInfo, type ContainerRuntime } from './runtime.js';
import { poolName } from './scope.js';
import type { SlotStore } from './slots.js';

/** The pool's tuning besides its size: a check every 5 s, two creates at once. */
export const WARM_POOL_DEFAULTS = { intervalMs: 5_000, parallelCreates: 2 } as const;

/** The refill lease outlives the slowest container start it covers, twice over. */
export const refillLeaseTtlMs = (startTimeoutMs: number): number => 2 * startTimeoutMs;

export interface WarmPoolSettings {
  /** Warm containers to keep (`WORKCELL_WARM_POOL_SIZE`), across the hosts of one data directory scope. */
  size: number;
  /** Time between background checks; a claim also triggers one at once. */
  intervalMs: number;
  /** Containers created at once while refilling. */
  parallelCreates: number;
  /** How long the refill lease lives without renewal. */
  leaseTtlMs: number;
  /**
   * How long a refill asked for by a claim waits (`WORKCELL_WARM_POOL_REFILL_DELAY_MS`): the
   * replacement's start (engine, agent, its ready Claude Code process) then does not compete
   * for the cores with the run that claimed. 0: at once.
   */
  claimRefillDelayMs?: number;
}

/** What the pool needs to know of the containers it makes (the orchestrator's settings). */
export type PoolScope = Pick<
  OrchestratorSettings,
  'image' | 'imageVersion' | 'hostId' | 'scopeId' | 'startTimeoutMs'
>;

export interface PoolTick {
  created: number;
  /** Warm containers removed: stopped, or built from another image. */
  drained: { id: string; reason: string }[];
  /** Warm containers (plus pool containers being created) after the tick. */
  warm: number;
}

const MAX_BACKOFF_MS = 30_000;

/**
 * Keeps `size` started, healthy, generic containers of the configured image ready to claim.
 * Claims happen in the orchestrator (an atomic `claimWarm`); the pool only refills, in the
 * background: after every claim attempt and on a timer. One refill runs at a time per host, and
 * one host at a time per image through a lease; the deficit is counted from the shared state
 * (warm records plus pool containers still starting), so several hosts on one state store keep
 * one pool of `size`. Warm containers that stopped, or that run another image version or build
 * than the configured one, are drained and replaced.
 */
export class WarmPool {
  private timer: Timer | null = null;
  private running: Promise<PoolTick> | null = null;
  private again = false;
  /** Refilling in the background (between `start` and `stop`). */
  private active = false;
  /** `stop` was called: a refill in progress ends after its current batch. */
  private closing = false;
  private failures = 0;
  private retryAt = 0;

  constructor(
    private readonly deps: {
      containers: Pick<Orchestrator, 'createContainer' | 'remove'>;
      listeners: Pick<EgressListeners, 'sweep'>;
      state: StateStore;
      runtime: ContainerRuntime;
      slots: SlotStore;
      clock: Clock;
      logger: Logger;
      settings: WarmPoolSettings;
      scope: PoolScope;
      /** Containers this host may still start (its capacity); the pool never goes past it. */
      room?: () => Promise<number>;
    },
  ) {}

  get size(): number {
    return this.deps.settings.size;
  }

  /** The pool this host fills: its image among its data directory scope's containers. */
  private get pool(): string {
    return poolName(this.deps.scope.image, this.deps.scope.scopeId);
  }

  /**
   * Starts refilling: now, every `intervalMs`, and whenever `kick` is called (the composition
   * root calls it after every warm claim attempt).
   */
  start(): void {
    if (this.active) return;
    this.active = true;
    this.closing = false;
    this.timer = this.deps.clock.every(this.deps.settings.intervalMs, () => this.kick(), {
      background: true,
    });
    this.kick();
  }

  /** Stops refilling and waits for a tick in progress (containers being created finish). */
  async stop(): Promise<void> {
    this.active = false;
    this.closing = true;
    this.timer?.cancel();
    this.timer = null;
    // A failed tick was logged by `kick`; stopping only waits for it.
    await this.running?.catch(() => undefined);
  }

  /** A warm claim was attempted: refills after `claimRefillDelayMs`. Never blocks the caller. */
  claimed(): void {
    const delay = this.deps.settings.claimRefillDelayMs ?? 0;
    if (delay <= 0) this.kick();
    else this.deps.clock.after(delay, () => this.kick());
  }

  /** Asks for a refill soon; coalesces with one in progress. Never blocks the caller. */
  kick(): void {
    if (!this.active) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.tick()
      .catch((err: unknown) => {
        this.deps.logger.warn({ err }, 'warm pool tick failed');
        return { created: 0, drained: [], warm: 0 };
      })
      .finally(() => {
        this.running = null;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  /** Resolves when the tick in progress (if any) and the ones it asked for are done. */
  async settled(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Warm containers ready to claim now. */
  async warmCount(): Promise<number> {
    const { state } = this.deps;
    const ids = new Set(await state.listWarm(this.pool));
    const records = await state.listContainers();
    return records.filter((r) => r.state === 'warm' && ids.has(r.id)).length;
  }

  /**
   * One check: drops listeners of containers that are gone, drains stopped and old-image warm
   * containers, then (holding the refill lease) creates containers until the pool is full.
   */
  async tick(): Promise<PoolTick> {
    const { containers, listeners, logger, settings, scope, clock } = this.deps;
    await listeners.sweep();
    const drained = await this.drain();
    const result: PoolTick = { created: 0, drained, warm: 0 };
    if (settings.size === 0 || clock.now() < this.retryAt) {
      result.warm = await this.countTowardPool();
      return result;
    }
    const lease = await takeLease(this.deps, {
      name: LEASES.pool(this.pool),
      holder: leaseHolder('pool', scope.hostId),
      ttlMs: settings.leaseTtlMs,
    });
    if (!lease) {
      result.warm = await this.countTowardPool();
      return result;
    }
    try {
      for (;;) {
        result.warm = await this.countTowardPool();
        const room = this.deps.room ? await this.deps.room() : Infinity;
        const deficit = Math.min(settings.size - result.warm, room);
        if (deficit <= 0 || this.closing) break;
        const batch = Math.min(deficit, settings.parallelCreates);
        const outcomes = await Promise.allSettled(
          Array.from({ length: batch }, () => containers.createContainer()),
        );
        const failed = outcomes.filter((o) => o.status === 'rejected');
        result.created += batch - failed.length;
        if (failed.length > 0) {
          this.failures += 1;
          const delay = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** (this.failures - 1));
          this.retryAt = clock.now() + delay;
          logger.warn(
            {
              failures: this.failures,
              retryInMs: delay,
              err: (failed[0] as PromiseRejectedResult).reason as unknown,
            },
            'warm container creation failed',
          );
          break;
        }
        this.failures = 0;
      }
    } finally {
      await lease.release();
    }
    if (result.created > 0)
      logger.info({ created: result.created, warm: result.warm }, 'warm pool refilled');
    return result;
  }

  /** Warm records in the pool, plus pool containers some host is still starting. */
  private async countTowardPool(): Promise<number> {
    const { state, scope, slots, clock } = this.deps;
    const { image, startTimeoutMs } = scope;
    const ids = new Set(await state.listWarm(this.pool));
    const now = clock.now();
    const records = await state.listContainers();
    return records.filter(
      (r) =>
        (r.state === 'warm' && ids.has(r.id)) ||
        (r.state === 'creating' &&
          r.workspaceId === null &&
          r.image === image &&
          slots.exists(r.slotId) &&
          now - r.stateChangedAt < 2 * startTimeoutMs),
    ).length;
  }

  /** Removes warm containers that stopped or run another image than the configured one. */
  private async drain(): Promise<PoolTick['drained']> {
    const { containers, state, runtime, slots, scope, clock, logger } = this.deps;
    const records = (await state.listContainers()).filter((r) => r.state === 'warm');
    if (records.length === 0) return [];
    const engine = await runtime.list({
      [LABELS.managed]: 'true',
      [LABELS.dataDir]: slots.dataDir,
    });
    const byId = new Map(engine.map((c) => [c.id, c]));
    const imageId = await runtime.imageId(scope.image).catch((err: unknown) => {
      // Without the build id only the version label decides what is stale.
      logger.warn({ image: scope.image, err }, 'cannot read the image id');
      return null;
    });
    const drained: PoolTick['drained'] = [];
    for (const record of records) {
      const info = byId.get(record.id);
      if (!info) continue;
      const reason = this.drainReason(record, info, imageId);
      if (!reason) continue;
      if (
        !(await state.transitionContainer(record.id, ['warm'], { state: 'removing' }, clock.now()))
      )
        continue;
      await containers.remove(record.id, `warm pool: ${reason}`);
      drained.push({ id: record.id, reason });
    }
    return drained;
  }

  private drainReason(
    record: ContainerRecord,
    info: ContainerInfo,
    imageId: string | null,
  ): string | null {
    const settings = this.deps.scope;
    if (!info.running) return 'stopped';
    if (record.image === settings.image) {
      if (info.labels[LABELS.imageVersion] !== settings.imageVersion) return 'old image version';
      if (imageId !== null && info.imageId !== undefined && info.imageId !== imageId)
        return 'old image build';
      return null;
    }
    // Another image's pool: drained only by the host that made it (other hosts may still use it).
    return record.hostId === settings.hostId ? 'image no longer configured' : null;
  }
}
