import type { Logger } from 'pino';
import { LEASES } from '../state/leases.js';
import type { ContainerRecord, ContainerState, StateStore } from '../state/state-store.js';
import type { Clock } from '../time/clock.js';
import { forEachLimited } from './limit.js';
import type { Orchestrator, OrchestratorSettings } from './orchestrator.js';
import { socketListening } from './probe.js';
import { rebuildRecord, restoreRecord, viewOf, type DiskView } from './rebuild.js';
import { retireContainer } from './retire.js';
import { LABELS, type ContainerRuntime } from './runtime.js';
import { poolName } from './scope.js';
import type { SlotStore } from './slots.js';
import type { WorkspaceSync } from './workspace-sync.js';

/** Records younger than this may still be being created by another host: left alone. */
export const RECONCILE_GRACE_MS = 10_000;

export interface ReconcileReport {
  /** This host's healthy containers, egress listeners re-attached. */
  adopted: string[];
  /** Of those, the ones whose state was lost and rebuilt from labels and assignment records. */
  rebuilt: string[];
  removed: { id: string; reason: string }[];
  /** State records whose container was gone. */
  cleared: { id: string; reason: string }[];
  /** Slot directories with no container, removed. */
  slots: string[];
  /** Workspaces whose run lease belonged to a run that died with this host, released at once. */
  releasedLeases: string[];
  durationMs: number;
}

export interface ReconcileDeps {
  containers: Pick<Orchestrator, 'remove' | 'responds' | 'adopt'>;
  state: StateStore;
  runtime: ContainerRuntime;
  slots: SlotStore;
  sync: WorkspaceSync;
  clock: Clock;
  logger: Logger;
  /** This host, the image it serves and its data directory's scope (the orchestrator's settings). */
  scope: Pick<OrchestratorSettings, 'hostId' | 'image' | 'imageVersion' | 'scopeId'>;
  runLeaseTtlMs: number;
  /** Slot directories younger than this may belong to a container another host is creating. */
  graceMs: number;
}

const ASSIGNED_STATES: readonly ContainerState[] = ['assigned', 'idle', 'paused'];

/**
 * Start-up reconciliation, run before the host serves. For every container of this data
 * directory whose egress listener this host held (by its assignment record, else its creator
 * label): a healthy one of the configured image is adopted (listener re-attached; its state
 * rebuilt from labels and the assignment record when the state store lost it); the rest are
 * removed: runs that died with the previous process (their run lease is released), unhealthy
 * or stopped containers and other image versions (assigned ones synced out first). Records
 * whose container is gone are cleared, and slot directories with no container removed.
 * Other hosts' containers are left to them and to GC.
 */
export async function reconcile(deps: ReconcileDeps): Promise<ReconcileReport> {
  const { containers: lifecycle, state, runtime, slots, clock, logger } = deps;
  const settings = deps.scope;
  const started = performance.now();
  const report: ReconcileReport = {
    adopted: [],
    rebuilt: [],
    removed: [],
    cleared: [],
    slots: [],
    releasedLeases: [],
    durationMs: 0,
  };

  const containers = await runtime.list({
    [LABELS.managed]: 'true',
    [LABELS.dataDir]: slots.dataDir,
  });
  const records = await state.listContainers();
  /**
   * Runs recorded in progress, by the container recorded for each ('' while none is): those
   * containers go on running them for the host that carries them on.
   */
  const attached = new Map(
    (await state.listRunAttachments().catch(() => [])).map((a) => [a.runId, a.containerId]),
  );
  const byId = new Map(records.map((r) => [r.id, r]));
  const imageId = await runtime.imageId(settings.image).catch((err: unknown) => {
    // Without the build id only the version label decides what is stale.
    logger.warn({ image: settings.image, err }, 'cannot read the image id');
    return null;
  });

  await forEachLimited(containers, 4, async (info) => {
    const view = viewOf(info, slots);
    if (view.holder !== settings.hostId) return;
    const outcome = await settle(deps, view, byId.get(info.id) ?? null, imageId, report, attached);
    if (outcome) report.removed.push({ id: info.id, reason: outcome });
  });

  const present = new Set(containers.map((c) => c.id));
  await forEachLimited(
    records.filter((r) => !present.has(r.id)),
    4,
    async (record) => {
      // Another host's (its own engine and data directory): that host reconciles it.
      if (!slots.exists(record.slotId) && record.hostId !== settings.hostId) return;
      if (await runtime.inspect(record.id)) return;
      const assignment = slots.exists(record.slotId)
        ? slots.readAssignment(slots.slot(record.slotId))
        : null;
      await lifecycle.remove(record.id, 'container gone');
      report.cleared.push({ id: record.id, reason: 'container gone' });
      if (record.state === 'running' && (assignment?.hostId ?? record.hostId) === settings.hostId) {
        await releaseDeadRunLease(state, record, report);
      }
    },
  );

  const referenced = new Set<string>([
    ...containers.map((c) => c.labels[LABELS.slot] ?? ''),
    ...(await state.listContainers()).map((r) => r.slotId),
  ]);
  for (const slotId of slots.list()) {
    if (referenced.has(slotId)) continue;
    const age = slots.ageMs(slotId, clock.now());
    if (age === null || age < deps.graceMs) continue;
    if (await socketListening(slots.slot(slotId).egressSocket)) continue;
    await slots.remove(slotId);
    report.slots.push(slotId);
  }

  report.durationMs = Math.round(performance.now() - started);
  logger.info({ reconcile: report }, 'reconciled containers');
  return report;
}

/**
 * Adopts or removes one of this host's containers; answers the removal reason, or null when
 * it was adopted (or another host's run now holds it).
 */
async function settle(
  deps: ReconcileDeps,
  view: DiskView,
  record: ContainerRecord | null,
  imageId: string | null,
  report: ReconcileReport,
  attached: ReadonlyMap<string, string>,
): Promise<string | null> {
  const { containers: orchestrator, state, runtime, clock, logger } = deps;
  const { info } = view;
  const settings = deps.scope;
  const slotId = view.slotId ?? undefined;

  // A run recorded as in progress died with the previous process of this host.
  const deadRunId = record
    ? record.state === 'running'
      ? record.runId
      : null
    : (view.assignment?.runId ?? null);
  if (
    deadRunId !== null &&
    record?.state === 'running' &&
    attached.get(deadRunId) === info.id &&
    info.running
  ) {
    // The run goes on in its container; the execute service carries it on.
    await orchestrator.adopt(record);
    report.adopted.push(info.id);
    return null;
  }
  if (deadRunId !== null || record?.state === 'running') {
    await orchestrator.remove(info.id, 'run died with its host', slotId);
    const workspaceId = record?.workspaceId ?? view.assignment?.workspaceId ?? null;
    // A run recorded with another container (or none yet) goes on, or starts again, on another
    // host under the same id: the workspace lock is that host's.
    const elsewhere = deadRunId !== null && (attached.get(deadRunId) ?? info.id) !== info.id;
    if (workspaceId && deadRunId && !elsewhere)
      await releaseDeadRunLease(state, { workspaceId, runId: deadRunId }, report);
    return 'run died with its host';
  }
  if (record && !ASSIGNED_STATES.includes(record.state) && record.state !== 'warm') {
    await orchestrator.remove(info.id, `left in state ${record.state}`, slotId);
    return `left in state ${record.state}`;
  }

  const retire = async (reason: string): Promise<string | null> => {
    if (record && ASSIGNED_STATES.includes(record.state)) {
      const outcome = await retireContainer(
        {
          containers: orchestrator,
          state,
          slots: deps.slots,
          sync: deps.sync,
          clock,
          logger,
          hostId: settings.hostId,
          runLeaseTtlMs: deps.runLeaseTtlMs,
        },
        record,
        reason,
        { from: ASSIGNED_STATES, syncOut: true },
      );
      return outcome === 'removed' ? reason : null;
    }
    await orchestrator.remove(info.id, reason, slotId);
    return reason;
  };

  const staleImage =
    info.labels[LABELS.imageVersion] !== settings.imageVersion ||
    (record !== null && record.image !== settings.image) ||
    (imageId !== null && info.imageId !== undefined && info.imageId !== imageId);
  if (staleImage) return retire('other image version');
  if (!info.running && !info.paused) return retire('container stopped');
  if (info.paused) {
    try {
      await runtime.unpause(info.id);
    } catch (err) {
      // The health probe below decides: a container that stays frozen is retired as unhealthy.
      logger.warn({ containerId: info.id, err }, 'unpausing a container failed');
    }
    if (record?.state === 'paused') {
      await state.transitionContainer(info.id, ['paused'], { state: 'idle' }, clock.now());
    }
  }

  const probe = record ?? rebuildRecord(view, clock.now());
  if (!probe) {
    await orchestrator.remove(info.id, 'no state and nothing on disk to rebuild it from', slotId);
    return 'no state and nothing on disk to rebuild it from';
  }
  if (!(await orchestrator.responds(probe))) return retire('unhealthy');

  let adopted = record;
  if (!adopted) {
    if (!(await restoreRecord(state, probe, poolName(settings.image, settings.scopeId)))) {
      await orchestrator.remove(info.id, 'surplus: its workspace has another container', slotId);
      return 'surplus: its workspace has another container';
    }
    adopted = probe;
    report.rebuilt.push(info.id);
  } else if (adopted.state === 'warm') {
    await state.addWarm(poolName(settings.image, settings.scopeId), adopted.id);
  }
  await orchestrator.adopt(adopted);
  report.adopted.push(info.id);
  return null;
}

/** Releases a workspace's run lease if the dead run still holds it. */
async function releaseDeadRunLease(
  state: StateStore,
  run: { workspaceId: string | null; runId: string | null },
  report: ReconcileReport,
): Promise<void> {
  if (!run.workspaceId || !run.runId) return;
  if (await state.releaseLease(LEASES.workspace(run.workspaceId), run.runId))
    report.releasedLeases.push(run.workspaceId);
}
