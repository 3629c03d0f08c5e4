import type { Logger } from 'pino';
import { LEASES, leaseHolder, takeLease, type HeldLease } from '../state/leases.js';
import type { ContainerRecord, ContainerState, StateStore } from '../state/state-store.js';
import type { Clock } from '../time/clock.js';
import type { Orchestrator } from './orchestrator.js';
import type { SlotStore } from './slots.js';
import type { WorkspaceSync } from './workspace-sync.js';

export interface RetireDeps {
  containers: Pick<Orchestrator, 'remove'>;
  state: StateStore;
  slots: SlotStore;
  sync: WorkspaceSync;
  clock: Clock;
  logger: Logger;
  /** This host, in the holder id of the run lease taken for the final sync. */
  hostId: string;
  /** How long the run lease taken for the final sync lives without renewal. */
  runLeaseTtlMs: number;
}

/**
 * - `removed`: synced out (when asked) and removed.
 * - `busy`: the workspace's run lease is held (a run is starting or in progress), or a terminal
 *   is open in the workspace (its terminal lease is held): left alone.
 * - `changed`: the record was no longer in a state it may be retired from: left alone.
 * - `sync_failed`: the final sync failed; the container stays, in its previous state.
 */
export type RetireOutcome = 'removed' | 'busy' | 'changed' | 'sync_failed';

/**
 * Retires one container without losing a file. For an assigned container it first takes the
 * workspace's run lease, so no run can start during the final sync; then it moves the record to
 * `removing` only if it is still in one of `from` (the compare-and-set that makes GC's
 * delete-if-still-idle safe), syncs the slot's files out, and removes the container.
 */
export async function retireContainer(
  deps: RetireDeps,
  record: ContainerRecord,
  reason: string,
  options: { from: readonly ContainerState[]; syncOut: boolean },
): Promise<RetireOutcome> {
  const { workspaceId } = record;
  let lease: HeldLease | null = null;
  if (workspaceId) {
    lease = await takeLease(deps, {
      name: LEASES.workspace(workspaceId),
      holder: leaseHolder('retire', deps.hostId),
      ttlMs: deps.runLeaseTtlMs,
    });
    if (!lease) return 'busy';
  }
  try {
    if (workspaceId && (await deps.state.getLeaseHolder(LEASES.terminal(workspaceId))) !== null)
      return 'busy';
    return await retireUnderLease(deps, record, reason, options);
  } finally {
    await lease?.release();
  }
}

async function retireUnderLease(
  deps: RetireDeps,
  record: ContainerRecord,
  reason: string,
  options: { from: readonly ContainerState[]; syncOut: boolean },
): Promise<RetireOutcome> {
  const { containers, state, slots, sync, clock, logger } = deps;
  const { workspaceId } = record;
  const moving = await state.transitionContainer(
    record.id,
    options.from,
    { state: 'removing' },
    clock.now(),
  );
  if (!moving) return 'changed';
  if (options.syncOut && workspaceId && record.tenant) {
    try {
      await sync.syncOut(record.tenant, workspaceId, slots.slot(record.slotId));
    } catch (err) {
      logger.error(
        { containerId: record.id, workspaceId, err },
        'final sync out failed; the container stays',
      );
      await state.transitionContainer(
        record.id,
        ['removing'],
        { state: record.state },
        clock.now(),
      );
      return 'sync_failed';
    }
  }
  await containers.remove(record.id, reason);
  return 'removed';
}
