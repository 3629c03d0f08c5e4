import type { Logger } from 'pino';
import type { ContainerRecord } from '../state/state-store.js';
import type { Clock } from '../time/clock.js';
import type { RunContainers } from './run-containers.js';

export interface ReadyLimitDeps {
  /** Containers of this host that may keep a ready Claude Code process (`WORKCELL_AGENT_READY_MAX`). */
  max: number;
  clock: Clock;
  logger: Logger;
  /**
   * Asks the agent of `slotId` to close its ready process, and not to start one when its run in
   * progress ends (`POST /ready/release`). Throws when the agent does not answer.
   */
  release: (slotId: string) => Promise<boolean>;
}

/**
 * Bounds how many of this host's containers keep a ready Claude Code process. A container counts
 * from the moment its agent starts one or will: a warm container once it answers (its agent
 * starts one for the operator's defaults), any container a piece of work acquires (its agent
 * starts one for the conversation's next turn when a run ends). Using a container makes it the
 * most recently used; when one more would count past `max`, the least recently used ones are
 * released first. A container leaves the count when it is released or its slot is removed.
 * The count never falls below the processes that exist: a process that closed on its own (idle,
 * failed start) still counts until it is released or removed, so the bound only errs on the safe
 * side.
 */
export class ReadyLimit {
  /** Slot id -> when it was last used, least recently used first (insertion order). */
  private readonly lastUsed = new Map<string, number>();

  constructor(private readonly deps: ReadyLimitDeps) {}

  /** Slots counted now. */
  get counted(): number {
    return this.lastUsed.size;
  }

  /** Is the slot counted as holding a ready process? */
  holds(slotId: string): boolean {
    return this.lastUsed.has(slotId);
  }

  /**
   * Marks `slotId` used now, and releases the least recently used others while more than `max`
   * are counted. Resolves once they are released; a release that fails is logged (the agent is
   * gone or stuck: its container's removal follows). Never throws.
   */
  async use(slotId: string): Promise<void> {
    const { max, clock, logger } = this.deps;
    const now = clock.now();
    this.lastUsed.delete(slotId);
    this.lastUsed.set(slotId, now);
    const victims: { slotId: string; idleMs: number }[] = [];
    for (const [oldest, at] of this.lastUsed) {
      if (this.lastUsed.size <= max) break;
      if (oldest === slotId) continue;
      this.lastUsed.delete(oldest);
      victims.push({ slotId: oldest, idleMs: now - at });
    }
    await Promise.all(
      victims.map(async (victim) => {
        try {
          const released = await this.deps.release(victim.slotId);
          logger.info(
            { ...victim, released, max, for: slotId },
            'ready process released (least recently used)',
          );
        } catch (err) {
          logger.warn({ ...victim, err }, 'releasing a ready process failed');
        }
      }),
    );
  }

  /** The slot is gone: it no longer counts. */
  forget(slotId: string): void {
    this.lastUsed.delete(slotId);
  }
}

/**
 * The containers a piece of work acquires, each counted as used by `limit` before the work
 * begins in it (its agent starts a ready process when the run ends).
 */
export function usingReadyLimit(containers: RunContainers, limit: ReadyLimit): RunContainers {
  return {
    acquire: async (tenant, workspaceId, cold) => {
      const acquired = await containers.acquire(tenant, workspaceId, cold);
      await limit.use(acquired.record.slotId);
      return acquired;
    },
    reattach: async (tenant, containerId, runId) => {
      const acquired = await containers.reattach(tenant, containerId, runId);
      if (acquired) await limit.use(acquired.record.slotId);
      return acquired;
    },
    beginRun: (containerId, runId) => containers.beginRun(containerId, runId),
    endRun: (containerId) => containers.endRun(containerId),
    remove: (containerId, reason) => containers.remove(containerId, reason),
    markFailed: (containerId, reason) => containers.markFailed(containerId, reason),
  };
}

/** What the warm pool makes and removes its containers with (`Orchestrator`). */
export interface WarmContainers {
  createContainer(): Promise<ContainerRecord>;
  remove(containerId: string, reason: string): Promise<void>;
}

/**
 * The warm pool's containers, each new one counted as used by `limit` once its agent answers
 * (it starts its ready process then).
 */
export function warmUnderReadyLimit(containers: WarmContainers, limit: ReadyLimit): WarmContainers {
  return {
    createContainer: async () => {
      const record = await containers.createContainer();
      await limit.use(record.slotId);
      return record;
    },
    remove: (containerId, reason) => containers.remove(containerId, reason),
  };
}
