import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { runLeaseName } from '../execute/execute-service.js';
import type { WorkspaceSync } from '../execute/workspace-sync.js';
import type { ContainerRecord, ContainerState, StateStore } from '../state/state-store.js';
import type { Orchestrator } from './orchestrator.js';

export interface RetireDeps {
  orchestrator: Orchestrator;
  state: StateStore;
  sync: WorkspaceSync;
  logger: Logger;
  /** How long the run lease taken for the final sync lives without renewal. */
  runLeaseTtlMs: number;
}

/**
 * - `removed`: synced out (when asked) and removed.
 * - `busy`: the workspace's run lease is held (a run is starting or in progress): left alone.
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
  const { orchestrator, state, sync, logger, runLeaseTtlMs } = deps;
  const workspaceId = record.workspaceId;
  const lease = workspaceId ? runLeaseName(workspaceId) : null;
  const holder = `retire:${orchestrator.settings.hostId}:${randomBytes(6).toString('hex')}`;
  if (lease && !(await state.acquireLease(lease, holder, runLeaseTtlMs))) return 'busy';
  const renew = lease
    ? setInterval(
        () => {
          void state.renewLease(lease, holder, runLeaseTtlMs).catch(() => false);
        },
        Math.max(1000, Math.floor(runLeaseTtlMs / 3)),
      )
    : null;
  try {
    const moving = await state.transitionContainer(
      record.id,
      options.from,
      { state: 'removing' },
      orchestrator.clock.now(),
    );
    if (!moving) return 'changed';
    if (options.syncOut && workspaceId && record.tenant) {
      try {
        await sync.syncOut(record.tenant, workspaceId, orchestrator.slotOf(record));
      } catch (err) {
        logger.error(
          { containerId: record.id, workspaceId, err: String(err) },
          'final sync out failed; the container stays',
        );
        await state.transitionContainer(
          record.id,
          ['removing'],
          { state: record.state },
          orchestrator.clock.now(),
        );
        return 'sync_failed';
      }
    }
    await orchestrator.remove(record.id, reason);
    return 'removed';
  } finally {
    if (renew) clearInterval(renew);
    if (lease) await state.releaseLease(lease, holder).catch(() => false);
  }
}
