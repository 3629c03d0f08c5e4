import { WorkcellError } from '@workcell/protocol';
import type { Logger } from 'pino';
import type { ContainerRecord, ContainerState } from '../state/state-store.js';
import { REUSABLE_STATES, type Orchestrator, type OrchestratorSettings } from './orchestrator.js';
import { retireContainer, type RetireDeps } from './retire.js';
import { poolName } from './scope.js';

/** States that hold an engine container (and its memory) on this host. */
const OCCUPYING: ReadonlySet<ContainerState> = new Set([
  'creating',
  'warm',
  'assigned',
  'running',
  'idle',
  'paused',
]);
/** Assigned containers with no run that may be retired to make room. */
const RETIRABLE: readonly ContainerState[] = ['assigned', 'idle'];

export interface CapacityReport {
  max: number;
  used: number;
  /** Idle assigned containers that could be retired to make room. */
  retirable: number;
  /** No room and nothing to retire: a new workspace cannot start here now. */
  full: boolean;
}

/**
 * The host's container capacity (`WORKCELL_MAX_CONTAINERS`). A run that needs a new container
 * is admitted while the host has room; at capacity, idle assigned containers are retired (synced
 * out, oldest idle first) to make it; when none is idle the run is refused with 503
 * `host_at_capacity` and `Retry-After`, so a load balancer tries another host. The count is of
 * this host's own containers (its data directory), read from the shared state.
 */
export class HostCapacity {
  constructor(
    private readonly deps: RetireDeps & {
      containers: Pick<Orchestrator, 'remove' | 'assigned'>;
      /** The image this host serves and its data directory's scope (the orchestrator's settings). */
      scope: Pick<OrchestratorSettings, 'image' | 'scopeId'>;
      max: number;
      /** `Retry-After` of a refusal, seconds. */
      retryAfterSeconds?: number;
      logger: Logger;
    },
  ) {}

  get max(): number {
    return this.deps.max;
  }

  async report(): Promise<CapacityReport> {
    const mine = await this.mine();
    const used = mine.filter((r) => OCCUPYING.has(r.state)).length;
    const retirable = mine.filter((r) => RETIRABLE.includes(r.state)).length;
    return { max: this.deps.max, used, retirable, full: used >= this.deps.max && retirable === 0 };
  }

  /** Rooms left for the warm pool: it never fills the last free places. */
  async roomForWarm(): Promise<number> {
    const { used } = await this.report();
    return Math.max(0, this.deps.max - used);
  }

  /**
   * Admits a run of `workspaceId` on this host, making room when it needs a new container;
   * throws `host_at_capacity` when it cannot.
   */
  async admit(workspaceId: string): Promise<void> {
    const { containers, state, slots, scope, logger } = this.deps;
    const assigned = await containers.assigned(workspaceId);
    if (assigned && slots.exists(assigned.slotId) && REUSABLE_STATES.includes(assigned.state))
      return;
    if ((await state.listWarm(poolName(scope.image, scope.scopeId))).length > 0) return;
    const mine = await this.mine();
    if (mine.filter((r) => OCCUPYING.has(r.state)).length < this.deps.max) return;
    const idle = mine
      .filter((r) => RETIRABLE.includes(r.state) && r.workspaceId !== workspaceId)
      .sort((a, b) => idleSince(a) - idleSince(b));
    for (const candidate of idle) {
      const outcome = await retireContainer(this.deps, candidate, 'host at capacity', {
        from: RETIRABLE,
        syncOut: true,
      });
      logger.info({ containerId: candidate.id, outcome }, 'retiring an idle container for room');
      if (outcome === 'removed') return;
    }
    const seconds = this.deps.retryAfterSeconds ?? 5;
    throw new WorkcellError(
      'host_at_capacity',
      `this host runs its maximum of ${this.deps.max} containers and none is idle; retry in ${seconds} s (another host may have room)`,
      { retryAfterSeconds: seconds },
    );
  }

  private async mine(): Promise<ContainerRecord[]> {
    const { state, slots } = this.deps;
    // This host's own: their slots are in its data directory.
    return (await state.listContainers()).filter((r) => slots.exists(r.slotId));
  }
}

function idleSince(record: ContainerRecord): number {
  return record.lastRunEndedAt ?? record.stateChangedAt;
}
