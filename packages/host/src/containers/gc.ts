import type { Logger } from 'pino';
import { LEASES, leaseHolder, withLease } from '../state/leases.js';
import type { ContainerRecord, ContainerState, StateStore } from '../state/state-store.js';
import type { Clock, Timer } from '../time/clock.js';
import { forEachLimited } from './limit.js';
import type { Orchestrator, OrchestratorSettings } from './orchestrator.js';
import { socketListening } from './probe.js';
import { rebuildRecord, restoreRecord, viewOf } from './rebuild.js';
import { retireContainer, type RetireDeps } from './retire.js';
import { LABELS, type ContainerInfo, type ContainerRuntime } from './runtime.js';
import { poolName } from './scope.js';
import type { SlotStore } from './slots.js';
import type { WorkspaceSync } from './workspace-sync.js';

/** States of a workspace's container that a newer container of the workspace supersedes. */
const SUPERSEDABLE: readonly ContainerState[] = ['assigned', 'running', 'idle', 'paused'];

/** How long the GC lease lives without renewal. */
export const GC_LEASE_TTL_MS = 60_000;

/** What may still be being created: anything younger than a start timeout and 10 s. */
export const gcGraceMs = (startTimeoutMs: number): number => startTimeoutMs + 10_000;

export interface GcSettings {
  /** An assigned container idle this long (since its last run ended) is synced out and removed. */
  idleTimeoutMs: number;
  /** A container older than this is retired when next idle (a warm one at once). */
  maxLifetimeMs: number;
  /** Time between the periodic passes. */
  intervalMs: number;
  /** How long the GC lease lives without renewal (a crashed host's pass frees it after this). */
  leaseTtlMs: number;
  /** The run lease's TTL (ExecuteService's): a `running` record whose lease is gone this long is abandoned. */
  runLeaseTtlMs: number;
  /** Containers, records and slot directories younger than this may still be being created: left alone. */
  graceMs: number;
}

export interface GcReport {
  /** Containers removed, with why. */
  removed: { id: string; reason: string }[];
  /** State records whose container was gone, cleared. */
  cleared: { id: string; reason: string }[];
  /**
   * Containers with no state that a live host still holds (their records rebuilt from disk), and
   * warm containers put back into a pool that had lost them.
   */
  rebuilt: { id: string; state: ContainerState }[];
  /** Slot directories with no container, removed. */
  slots: string[];
  /** Containers looked at and left as they are. */
  kept: number;
  /** What the pass's blob collection did (absent when the host collects no blobs). */
  blobs?: { deleted: number; staging: number; candidates: number; postponed: boolean };
  durationMs: number;
  /** Set when another host's pass holds the GC lease: this pass did nothing. */
  skipped?: 'lease_held';
}

const ASSIGNED_STATES: readonly ContainerState[] = ['assigned', 'idle', 'paused'];

/**
 * One pass removes idle and over-age containers (after their final sync), failed ones, stale
 * `creating`/`removing` leftovers, runs abandoned by a host that died, Workcell-labelled
 * containers of this data directory with no state (orphans), state whose container is gone and
 * slot directories with no container. It never touches a container without this data
 * directory's labels, and never one with a run in progress. Passes over one data directory run
 * one at a time across hosts through its `gc:<scope>` lease (hosts with data directories of their
 * own run theirs at once).
 */
export class GarbageCollector {
  private timer: Timer | null = null;
  private current: Promise<GcReport> | null = null;
  private stopped = true;

  constructor(
    private readonly deps: {
      containers: Pick<Orchestrator, 'remove'>;
      state: StateStore;
      runtime: ContainerRuntime;
      slots: SlotStore;
      sync: WorkspaceSync;
      clock: Clock;
      logger: Logger;
      /** This host, in the holder ids of the leases a pass takes. */
      hostId: string;
      /** Collects every tenant's unnamed blobs and staging leftovers, once per pass. */
      blobs?: { collectAll(): Promise<NonNullable<GcReport['blobs']>> };
      /** The image this host serves and its data directory's scope (the orchestrator's settings). */
      scope: Pick<OrchestratorSettings, 'image' | 'scopeId'>;
      settings: GcSettings;
    },
  ) {}

  /** Starts the periodic passes (the first after one interval). */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule();
  }

  /** Stops the periodic passes and waits for a pass in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = null;
    // A failed pass was logged by `schedule`; stopping only waits for it.
    await this.current?.catch(() => undefined);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = this.deps.clock.after(
      this.deps.settings.intervalMs,
      () => {
        this.timer = null;
        this.runOnce()
          .catch((err: unknown) => this.deps.logger.warn({ err }, 'GC pass failed'))
          .finally(() => this.schedule());
      },
      { background: true },
    );
  }

  /** Runs one pass now (or joins the one in progress on this host) and reports what it did. */
  runOnce(): Promise<GcReport> {
    this.current ??= this.leasedPass().finally(() => {
      this.current = null;
    });
    return this.current;
  }

  private async leasedPass(): Promise<GcReport> {
    const { settings, hostId, scope, logger } = this.deps;
    const started = performance.now();
    const report: GcReport = {
      removed: [],
      cleared: [],
      rebuilt: [],
      slots: [],
      kept: 0,
      durationMs: 0,
    };
    const pass = await withLease(
      this.deps,
      {
        name: LEASES.gc(scope.scopeId),
        holder: leaseHolder('gc', hostId),
        ttlMs: settings.leaseTtlMs,
      },
      () => this.pass(report),
    );
    report.durationMs = Math.round(performance.now() - started);
    if (!pass.held) return { ...report, skipped: 'lease_held' };
    if (
      report.removed.length + report.cleared.length + report.rebuilt.length + report.slots.length >
        0 ||
      (report.blobs?.deleted ?? 0) + (report.blobs?.staging ?? 0) > 0
    ) {
      logger.info({ gc: report }, 'GC pass');
    }
    return report;
  }

  private async pass(report: GcReport): Promise<void> {
    const { runtime, state, containers: lifecycle, slots, hostId } = this.deps;
    const containers = await runtime.list({
      [LABELS.managed]: 'true',
      [LABELS.dataDir]: slots.dataDir,
    });
    const byId = new Map(containers.map((c) => [c.id, c]));
    const records = await state.listContainers();
    const recorded = new Set(records.map((r) => r.id));

    await forEachLimited(records, 4, async (record) => {
      const info = byId.get(record.id);
      if (info) {
        await this.judge(record, info, report);
        return;
      }
      // Not a container of this data directory: another host's (which that host judges, with
      // its own engine), or gone.
      if (!slots.exists(record.slotId) && record.hostId !== hostId) return;
      if (await runtime.inspect(record.id)) return;
      await lifecycle.remove(record.id, 'container gone');
      report.cleared.push({ id: record.id, reason: 'container gone' });
    });

    await forEachLimited(
      containers.filter((c) => !recorded.has(c.id)),
      4,
      (info) => this.orphan(info, report),
    );

    const referenced = new Set<string>([
      ...containers.map((c) => c.labels[LABELS.slot] ?? ''),
      ...records.map((r) => r.slotId),
    ]);
    for (const slotId of slots.list()) {
      if (referenced.has(slotId)) continue;
      const age = slots.ageMs(slotId, this.now());
      if (age === null || age < this.deps.settings.graceMs) continue;
      if (await socketListening(slots.slot(slotId).egressSocket)) continue;
      await slots.remove(slotId);
      report.slots.push(slotId);
    }
    if (this.deps.blobs) report.blobs = await this.deps.blobs.collectAll();
  }

  private now(): number {
    return this.deps.clock.now();
  }

  /** Decides one recorded container's fate. */
  private async judge(
    record: ContainerRecord,
    info: ContainerInfo,
    report: GcReport,
  ): Promise<void> {
    const { settings, containers, state } = this.deps;
    const now = this.now();
    const alive = info.running || info.paused;
    const remove = async (from: readonly ContainerState[], reason: string): Promise<void> => {
      if (!(await state.transitionContainer(record.id, from, { state: 'removing' }, now))) {
        report.kept += 1;
        return;
      }
      await containers.remove(record.id, reason);
      report.removed.push({ id: record.id, reason });
    };

    const left = await this.superseded(record);
    if (left) {
      // Its files are not synced out: the workspace's newer container holds the newer files, or
      // the workspace is gone.
      await remove(SUPERSEDABLE, left);
      return;
    }

    switch (record.state) {
      case 'running':
        if (await this.abandoned(record)) await remove(['running'], 'run abandoned by its host');
        else report.kept += 1;
        return;
      case 'creating':
        if (now - record.stateChangedAt >= settings.graceMs)
          await remove(['creating'], 'stuck creating');
        else report.kept += 1;
        return;
      case 'removing':
        if (now - record.stateChangedAt >= settings.graceMs) {
          await containers.remove(record.id, 'stuck removing');
          report.removed.push({ id: record.id, reason: 'stuck removing' });
        } else {
          report.kept += 1;
        }
        return;
      case 'failed':
        await remove(['failed'], 'failed');
        return;
      case 'warm':
        if (!alive) await remove(['warm'], 'warm container stopped');
        else if (now - record.createdAt >= settings.maxLifetimeMs)
          await remove(['warm'], 'max lifetime');
        else if (await this.outOfPool(record)) {
          // A host died between taking the id from the pool and claiming the record.
          await state.addWarm(this.pool, record.id);
          report.rebuilt.push({ id: record.id, state: 'warm' });
        } else report.kept += 1;
        return;
      case 'assigned':
      case 'idle':
      case 'paused': {
        const idleSince = record.lastRunEndedAt ?? record.stateChangedAt;
        const reason = !alive
          ? 'container stopped'
          : now - idleSince >= settings.idleTimeoutMs
            ? 'idle timeout'
            : now - record.createdAt >= settings.maxLifetimeMs
              ? 'max lifetime'
              : null;
        if (!reason) {
          report.kept += 1;
          return;
        }
        const outcome = await retireContainer(this.retireDeps(), record, reason, {
          from: ASSIGNED_STATES,
          syncOut: true,
        });
        if (outcome === 'removed') report.removed.push({ id: record.id, reason });
        else report.kept += 1;
        return;
      }
    }
  }

  /** The warm pool of this host's image among its data directory's containers. */
  private get pool(): string {
    return poolName(this.deps.scope.image, this.deps.scope.scopeId);
  }

  /**
   * Why a container of a workspace is left behind, past the grace period in which an acquire
   * sets the assignment, or null when it is not: the workspace names another container (another
   * host took the workspace over while this one's host was down or missed the message to remove
   * it), or no container at all while this one is not running (the workspace moved and was then
   * deleted: nothing will use it again). A `running` one is superseded only once no live host
   * listens on its egress socket.
   */
  private async superseded(record: ContainerRecord): Promise<string | null> {
    const { state, settings, slots } = this.deps;
    if (!record.workspaceId || !SUPERSEDABLE.includes(record.state)) return null;
    if (this.now() - record.stateChangedAt < settings.graceMs) return null;
    const current = await state.getAssignment(record.workspaceId);
    if (current === record.id) return null;
    if (current === null)
      return record.state === 'running' ? null : 'orphaned: its workspace names no container';
    const moved = 'superseded: its workspace moved to another container';
    if (record.state !== 'running') return moved;
    return (await socketListening(slots.slot(record.slotId).egressSocket)) ? null : moved;
  }

  /** A `warm` record the pool has not listed for a whole grace period. */
  private async outOfPool(record: ContainerRecord): Promise<boolean> {
    const { state, settings, scope } = this.deps;
    if (this.now() - record.stateChangedAt < settings.graceMs) return false;
    if (record.image !== scope.image) return false;
    const pool = await state.listWarm(this.pool);
    if (pool.includes(record.id)) return false;
    // Read again: a claim may have finished since the record was listed.
    return (await state.getContainer(record.id))?.state === 'warm';
  }

  /**
   * A `running` record is abandoned when its workspace's run lease has been free for a whole
   * lease TTL (ExecuteService renews it while the run goes on) and no live host holds the
   * container's egress listener.
   */
  private async abandoned(record: ContainerRecord): Promise<boolean> {
    const { state, settings, slots } = this.deps;
    if (this.now() - record.stateChangedAt < settings.runLeaseTtlMs) return false;
    if (
      record.workspaceId &&
      (await state.getLeaseHolder(LEASES.workspace(record.workspaceId))) !== null
    )
      return false;
    return !(await socketListening(slots.slot(record.slotId).egressSocket));
  }

  /**
   * A container of this data directory with no state. A live host holding its egress listener
   * means the state store lost it (flushed or restarted): its record is rebuilt from disk.
   * Otherwise nobody can use it: it is removed with its slot.
   */
  private async orphan(info: ContainerInfo, report: GcReport): Promise<void> {
    const { containers, state, slots, settings } = this.deps;
    const now = this.now();
    if (now - info.createdAt.getTime() < settings.graceMs) {
      report.kept += 1;
      return;
    }
    const view = viewOf(info, slots);
    if (view.slotId && (await socketListening(slots.slot(view.slotId).egressSocket))) {
      const record = rebuildRecord(view, now);
      if (record && (await restoreRecord(state, record, this.pool))) {
        report.rebuilt.push({ id: record.id, state: record.state });
        return;
      }
    }
    await containers.remove(info.id, 'orphan: no state', view.slotId ?? undefined);
    report.removed.push({ id: info.id, reason: 'orphan: no state' });
  }

  private retireDeps(): RetireDeps {
    const { settings, ...deps } = this.deps;
    return { ...deps, runLeaseTtlMs: settings.runLeaseTtlMs };
  }
}
