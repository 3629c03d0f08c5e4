import type { Logger } from 'pino';
import type { ContainerRecord } from '../state/state-store.js';
import type { Clock, Timer } from '../time/clock.js';
import type { RunContainers } from './run-containers.js';
import type { WarmContainers } from './ready-limit.js';

export interface ReadyAgentCountDeps {
  /** This host's live containers (the ones whose agents can hold a ready process). */
  containers(): Promise<readonly ContainerRecord[]>;
  /** One container by id; null when it is gone. */
  container(id: string): Promise<ContainerRecord | null>;
  /** Whether the agent of `record` has a ready Claude Code process (false when it does not answer). */
  ask(record: ContainerRecord): Promise<boolean>;
  clock: Clock;
  logger: Logger;
  settings: {
    /** How often a container that changed is asked again while its agent settles. */
    pollMs: number;
    /** How long after its last change a container is asked (a ready process takes this to start). */
    settleMs: number;
    /** How often every agent is asked, for changes no container operation announces (a process that idled out). */
    refreshMs: number;
  };
}

/** The settings of the host's count. */
export const READY_COUNT_DEFAULTS: ReadyAgentCountDeps['settings'] = {
  pollMs: 250,
  settleMs: 10_000,
  refreshMs: 60_000,
};

/**
 * How many of this host's containers have a ready Claude Code process, kept in memory for
 * `/health` and `/metrics`, which read it without asking any agent. A container is asked when an
 * operation on it can change its agent's ready process (created, acquired, a run begun or ended,
 * removed: `changed`), and again every `pollMs` for `settleMs` while its agent starts or closes
 * the process; every agent is asked every `refreshMs` besides.
 */
export class ReadyAgentCount {
  /** Container id -> its slot and whether its agent has a ready process. */
  private readonly ready = new Map<string, { slotId: string; ready: boolean }>();
  /** Containers being asked while their agent settles, and until when. */
  private readonly settling = new Map<string, { until: number; timer: Timer }>();
  private refresher: Timer | null = null;
  private closed = false;

  constructor(private readonly deps: ReadyAgentCountDeps) {}

  /** Containers whose agent has a ready process, as last asked. */
  get value(): number {
    let n = 0;
    for (const { ready } of this.ready.values()) if (ready) n += 1;
    return n;
  }

  /** Asks every agent now and every `refreshMs` from now on. */
  start(): void {
    void this.refresh();
    this.refresher = this.deps.clock.every(
      this.deps.settings.refreshMs,
      () => void this.refresh(),
      {
        background: true,
      },
    );
  }

  /** An operation on container `id` can change its agent's ready process: it is asked until it settles. */
  changed(id: string): void {
    if (this.closed) return;
    const { clock, settings } = this.deps;
    const until = clock.now() + settings.settleMs;
    const current = this.settling.get(id);
    if (current) {
      current.until = until;
      return;
    }
    const entry = { until, timer: clock.after(0, () => void this.poll(id)) };
    this.settling.set(id, entry);
  }

  /** `changed` for the container in slot `slotId` (its agent was asked to release its process). */
  changedSlot(slotId: string): void {
    for (const [id, entry] of this.ready) if (entry.slotId === slotId) this.changed(id);
  }

  /** Asks every agent of this host once; forgets containers that are gone. */
  async refresh(): Promise<void> {
    let records: readonly ContainerRecord[];
    try {
      records = await this.deps.containers();
    } catch (err) {
      this.deps.logger.warn({ err }, 'the ready agents could not be counted');
      return;
    }
    const answers = await Promise.all(
      records.map(async (r) => [r, await this.deps.ask(r).catch(() => false)] as const),
    );
    const live = new Set(records.map((r) => r.id));
    for (const id of this.ready.keys()) if (!live.has(id)) this.ready.delete(id);
    for (const [r, ready] of answers) this.ready.set(r.id, { slotId: r.slotId, ready });
  }

  /** The slot is gone (its container removed, by the GC or any other way): it no longer counts. */
  forgetSlot(slotId: string): void {
    for (const [id, entry] of this.ready) if (entry.slotId === slotId) this.ready.delete(id);
  }

  close(): void {
    this.closed = true;
    this.refresher?.cancel();
    for (const { timer } of this.settling.values()) timer.cancel();
    this.settling.clear();
  }

  private async poll(id: string): Promise<void> {
    const record = await this.deps.container(id).catch(() => undefined);
    if (record === null) this.ready.delete(id);
    else if (record)
      this.ready.set(id, {
        slotId: record.slotId,
        ready: await this.deps.ask(record).catch(() => false),
      });
    const entry = this.settling.get(id);
    if (!entry || this.closed) return;
    const { clock, settings } = this.deps;
    if (record === null || clock.now() >= entry.until) {
      this.settling.delete(id);
      return;
    }
    entry.timer = clock.after(settings.pollMs, () => void this.poll(id));
  }
}

/** The containers a piece of work uses, each operation announced to `count` when it is done. */
export function runContainersCounted(
  containers: RunContainers,
  count: Pick<ReadyAgentCount, 'changed'>,
): RunContainers {
  const after = async <T>(id: string | null, work: Promise<T>): Promise<T> => {
    try {
      return await work;
    } finally {
      if (id) count.changed(id);
    }
  };
  return {
    acquire: async (tenant, workspaceId, cold) => {
      const acquired = await containers.acquire(tenant, workspaceId, cold);
      count.changed(acquired.record.id);
      return acquired;
    },
    reattach: async (tenant, containerId, runId) =>
      after(containerId, containers.reattach(tenant, containerId, runId)),
    beginRun: (containerId, runId) => after(containerId, containers.beginRun(containerId, runId)),
    endRun: (containerId) => after(containerId, containers.endRun(containerId)),
    remove: (containerId, reason) => after(containerId, containers.remove(containerId, reason)),
    markFailed: (containerId, reason) =>
      after(containerId, containers.markFailed(containerId, reason)),
  };
}

/** The warm pool's containers, each made or removed announced to `count`. */
export function warmContainersCounted(
  containers: WarmContainers,
  count: Pick<ReadyAgentCount, 'changed'>,
): WarmContainers {
  return {
    createContainer: async () => {
      const record = await containers.createContainer();
      count.changed(record.id);
      return record;
    },
    remove: async (containerId, reason) => {
      try {
        await containers.remove(containerId, reason);
      } finally {
        count.changed(containerId);
      }
    },
  };
}
