/** How long approvals and client tool calls wait, and how long their records are kept. */
export interface ApprovalSettings {
  /** How long an item waits before it is denied (`timeout`): `WORKCELL_APPROVAL_TIMEOUT_MS`. */
  timeoutMs: number;
  /** How long a conversation's items are kept after the last one was asked. */
  recordTtlMs: number;
}

/** Items are listed for a week after their wait could have ended. */
const RECORD_KEEP_MS = 7 * 24 * 3600 * 1000;

/** The approval settings from the host's configuration. */
export function approvalSettings(config: { approvalTimeoutMs: number }): ApprovalSettings {
  return {
    timeoutMs: config.approvalTimeoutMs,
    recordTtlMs: config.approvalTimeoutMs + RECORD_KEEP_MS,
  };
}
