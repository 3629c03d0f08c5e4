import type { Approval } from '@workcell/protocol';
import type { StoredApproval } from '../state/state-store.js';

/** An item as the API shows it. */
export function approvalView({ record, settlement }: StoredApproval): Approval {
  return {
    id: record.id,
    kind: record.kind,
    conversationId: record.conversationId,
    workspaceId: record.workspaceId,
    runId: record.runId,
    toolUseId: record.toolUseId,
    toolName: record.toolName,
    input: record.input,
    status: settlement?.status ?? 'pending',
    reason: settlement?.reason ?? null,
    message: settlement?.message ?? null,
    createdAt: new Date(record.createdAt).toISOString(),
    decidedAt: settlement ? new Date(settlement.decidedAt).toISOString() : null,
  };
}
