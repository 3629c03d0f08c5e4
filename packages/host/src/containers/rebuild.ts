import type { ContainerRecord, StateStore } from '../state/state-store.js';
import { LABELS, type ContainerInfo } from './runtime.js';
import type { AssignmentRecord, SlotStore } from './slots.js';

/** What Docker and the data directory alone say about one Workcell container. */
export interface DiskView {
  info: ContainerInfo;
  /** The slot named by the container's label, when it still exists on disk. */
  slotId: string | null;
  assignment: AssignmentRecord | null;
  /** The host that holds (or last held) its egress listener: the assignment's, else the creator. */
  holder: string;
}

/** Reads a container's slot and assignment record from the data directory. */
export function viewOf(info: ContainerInfo, slots: SlotStore): DiskView {
  const label = info.labels[LABELS.slot] ?? '';
  let slotId: string | null = null;
  let assignment: AssignmentRecord | null = null;
  try {
    if (label && slots.exists(label)) {
      slotId = label;
      assignment = slots.readAssignment(slots.slot(label));
    }
  } catch {
    // A label that is not a valid slot id names no slot of ours.
  }
  return {
    info,
    slotId,
    assignment,
    holder: assignment?.hostId ?? info.labels[LABELS.hostInstance] ?? '',
  };
}

/**
 * The container's state as the data directory records it: `warm` for an unassigned pool
 * container, `idle` for an assigned one between runs, `running` when the assignment still names
 * a run (that run died with its host unless a live host holds the container). Null when the
 * disk does not say enough (no slot, or a cold start that never recorded its assignment).
 */
export function rebuildRecord(view: DiskView, now: number): ContainerRecord | null {
  const { info, slotId, assignment } = view;
  if (!slotId) return null;
  const base = {
    id: info.id,
    slotId,
    hostId: info.labels[LABELS.hostInstance] ?? '',
    image: info.image,
    createdAt: info.createdAt.getTime(),
    stateChangedAt: now,
  };
  if (assignment && assignment.containerId === info.id) {
    const runId = assignment.runId ?? null;
    return {
      ...base,
      state: runId ? 'running' : 'idle',
      workspaceId: assignment.workspaceId,
      tenant: assignment.tenant,
      lastRunEndedAt: assignment.lastRunEndedAt ?? assignment.assignedAt,
      runId,
    };
  }
  if (info.labels[LABELS.pool] === 'warm' && !assignment) {
    return {
      ...base,
      state: 'warm',
      workspaceId: null,
      tenant: null,
      lastRunEndedAt: null,
      runId: null,
    };
  }
  return null;
}

/**
 * Writes a rebuilt record back with its warm-pool entry (the pool of its image) or its workspace
 * assignment. Answers false (and
 * writes nothing) when the workspace is already assigned to another container: this one is
 * surplus.
 */
export async function restoreRecord(
  state: StateStore,
  record: ContainerRecord,
  pool: string,
): Promise<boolean> {
  if (record.workspaceId) {
    const current = await state.getAssignment(record.workspaceId);
    if (current && current !== record.id && (await state.getContainer(current))) return false;
    await state.putContainer(record);
    await state.setAssignment(record.workspaceId, record.id);
    return true;
  }
  await state.putContainer(record);
  if (record.state === 'warm') await state.addWarm(pool, record.id);
  return true;
}
