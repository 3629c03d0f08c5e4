import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { ContainerRecord, StateStore } from '../state/state-store.js';
import type { Orchestrator } from './orchestrator.js';
import { LABELS, type ContainerInfo, type ContainerRuntime } from './runtime.js';

export interface WarmPoolSettings {
  /** Warm containers to keep (`WORKCELL_WARM_POOL_SIZE`), across every host on the state store. */
  size: number;
  /** Time between background checks; a claim also triggers one at once. */
  intervalMs: number;
  /** Containers created at once while refilling. */
  parallelCreates: number;
  /** How long the refill lease lives without renewal. */
  leaseTtlMs: number;
}

export interface PoolTick {
  created: number;
  /** Warm containers removed: stopped, or built from another image. */
  drained: { id: string; reason: string }[];
  /** Warm containers (plus pool containers being created) after the tick. */
  warm: number;
}

/** The refill lease of one image's pool: one host refills at a time, so hosts do not overfill. */
export const poolLeaseName = (image: string): string => `pool:${image}`;

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
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<PoolTick> | null = null;
  private again = false;
  /** Refilling in the background (between `start` and `stop`). */
  private active = false;
  /** `stop` was called: a refill in progress ends after its current batch. */
  private closing = false;
  private failures = 0;
  private retryAt = 0;
  private unsubscribe: (() => void) | null = null;

  constructor(
    private readonly deps: {
      orchestrator: Orchestrator;
      state: StateStore;
      runtime: ContainerRuntime;
      logger: Logger;
      settings: WarmPoolSettings;
      /** Containers this host may still start (its capacity); the pool never goes past it. */
      room?: () => Promise<number>;
    },
  ) {}

  get size(): number {
    return this.deps.settings.size;
  }

  /** Starts refilling: now, after every claim attempt, and every `intervalMs`. */
  start(): void {
    if (this.active) return;
    this.active = true;
    this.closing = false;
    this.unsubscribe = this.deps.orchestrator.onWarmClaim(() => this.kick());
    this.timer = setInterval(() => this.kick(), this.deps.settings.intervalMs);
    this.timer.unref();
    this.kick();
  }

  /** Stops refilling and waits for a tick in progress (containers being created finish). */
  async stop(): Promise<void> {
    this.active = false;
    this.closing = true;
    this.unsubscribe?.();
    this.unsubscribe = null;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running?.catch(() => undefined);
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
        this.deps.logger.warn({ err: String(err) }, 'warm pool tick failed');
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
    const { state, orchestrator } = this.deps;
    const ids = new Set(await state.listWarm(orchestrator.pool));
    const records = await state.listContainers();
    return records.filter((r) => r.state === 'warm' && ids.has(r.id)).length;
  }

  /**
   * One check: drops listeners of containers that are gone, drains stopped and old-image warm
   * containers, then (holding the refill lease) creates containers until the pool is full.
   */
  async tick(): Promise<PoolTick> {
    const { orchestrator, state, logger, settings } = this.deps;
    await orchestrator.sweepListeners();
    const drained = await this.drain();
    const result: PoolTick = { created: 0, drained, warm: 0 };
    if (settings.size === 0 || Date.now() < this.retryAt) {
      result.warm = await this.countTowardPool();
      return result;
    }
    const lease = poolLeaseName(orchestrator.pool);
    const holder = `${orchestrator.settings.hostId}:${randomBytes(6).toString('hex')}`;
    if (!(await state.acquireLease(lease, holder, settings.leaseTtlMs))) {
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
          Array.from({ length: batch }, () => orchestrator.createContainer()),
        );
        const failed = outcomes.filter((o) => o.status === 'rejected');
        result.created += batch - failed.length;
        if (failed.length > 0) {
          this.failures += 1;
          const delay = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** (this.failures - 1));
          this.retryAt = Date.now() + delay;
          logger.warn(
            {
              failures: this.failures,
              retryInMs: delay,
              err: String((failed[0] as PromiseRejectedResult).reason),
            },
            'warm container creation failed',
          );
          break;
        }
        this.failures = 0;
        await state.renewLease(lease, holder, settings.leaseTtlMs);
      }
    } finally {
      await state.releaseLease(lease, holder).catch(() => false);
    }
    if (result.created > 0)
      logger.info({ created: result.created, warm: result.warm }, 'warm pool refilled');
    return result;
  }

  /** Warm records in the pool, plus pool containers some host is still starting. */
  private async countTowardPool(): Promise<number> {
    const { state, orchestrator } = this.deps;
    const { image, startTimeoutMs } = orchestrator.settings;
    const ids = new Set(await state.listWarm(orchestrator.pool));
    const now = orchestrator.clock.now();
    const records = await state.listContainers();
    return records.filter(
      (r) =>
        (r.state === 'warm' && ids.has(r.id)) ||
        (r.state === 'creating' &&
          r.workspaceId === null &&
          r.image === image &&
          orchestrator.isLocal(r) &&
          now - r.stateChangedAt < 2 * startTimeoutMs),
    ).length;
  }

  /** Removes warm containers that stopped or run another image than the configured one. */
  private async drain(): Promise<PoolTick['drained']> {
    const { orchestrator, state, runtime } = this.deps;
    const settings = orchestrator.settings;
    const records = (await state.listContainers()).filter((r) => r.state === 'warm');
    if (records.length === 0) return [];
    const containers = await runtime.list({
      [LABELS.managed]: 'true',
      [LABELS.dataDir]: orchestrator.slots.dataDir,
    });
    const byId = new Map(containers.map((c) => [c.id, c]));
    const imageId = await runtime.imageId(settings.image).catch(() => null);
    const drained: PoolTick['drained'] = [];
    for (const record of records) {
      const info = byId.get(record.id);
      if (!info) continue;
      const reason = this.drainReason(record, info, imageId);
      if (!reason) continue;
      if (
        !(await state.transitionContainer(
          record.id,
          ['warm'],
          { state: 'removing' },
          orchestrator.clock.now(),
        ))
      )
        continue;
      await orchestrator.remove(record.id, `warm pool: ${reason}`);
      drained.push({ id: record.id, reason });
    }
    return drained;
  }

  private drainReason(
    record: ContainerRecord,
    info: ContainerInfo,
    imageId: string | null,
  ): string | null {
    const settings = this.deps.orchestrator.settings;
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
