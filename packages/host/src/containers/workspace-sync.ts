import type { Slot } from './slots.js';

/**
 * Moves a workspace's durable files and session transcripts between the object store and a
 * container's host-side slot: in before a run, out after it (and before a container is removed).
 */
export interface WorkspaceSync {
  syncIn(tenant: string, workspaceId: string, slot: Slot): Promise<void>;
  /** `workId` names the work whose changes these are (`run_...`, `exec_...`), for snapshots. */
  syncOut(tenant: string, workspaceId: string, slot: Slot, workId?: string): Promise<void>;
}
