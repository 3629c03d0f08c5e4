import type { BufferedEvent, StoredApproval } from '../state/state-store.js';

/** The item ids a run's log holds as requested and as resolved. */
export interface LoggedItems {
  requested: ReadonlySet<string>;
  resolved: ReadonlySet<string>;
}

/** The approvals and client tool calls a run's recorded events announce and resolve. */
export function loggedItems(recorded: readonly BufferedEvent[]): LoggedItems {
  const requested = new Set<string>();
  const resolved = new Set<string>();
  for (const e of recorded) {
    const into =
      e.event === 'approval.requested' || e.event === 'tool.requested'
        ? requested
        : e.event === 'approval.resolved' || e.event === 'tool.resolved'
          ? resolved
          : null;
    if (!into) continue;
    const data = JSON.parse(e.data) as { approvalId?: unknown; callId?: unknown };
    const id = e.event.startsWith('approval.') ? data.approvalId : data.callId;
    if (typeof id === 'string') into.add(id);
  }
  return { requested, resolved };
}

/**
 * How long, up to `now`, run `runId` has spent waiting for at least one of its items (the
 * union of their waits): time its timeout does not count.
 */
export function waitedMs(items: readonly StoredApproval[], runId: string, now: number): number {
  const spans = items
    .filter((i) => i.record.runId === runId)
    .map((i) => [i.record.createdAt, Math.min(now, i.settlement?.decidedAt ?? now)] as const)
    .filter(([from, to]) => to > from)
    .sort((a, b) => a[0] - b[0]);
  let total = 0;
  let end = -Infinity;
  for (const [from, to] of spans) {
    if (to <= end) continue;
    total += to - Math.max(from, end);
    end = to;
  }
  return total;
}
