import type { ErrorBody, RunSummary } from '@workcell/protocol';

/** How a run ended: a summary (`run.completed`) or an error (`run.failed`). */
export type Outcome = { summary: RunSummary } | { error: ErrorBody };

/** Why a run was asked to stop before it ended by itself. */
export type StopReason = 'interrupt' | 'timeout' | 'shutdown';

/**
 * The outcome of a run that was stopped: an interrupt completes it marked interrupted (with the
 * agent's summary when it sent one); a timeout or a shutdown fails it with its own code.
 */
export function stoppedOutcome(
  reason: StopReason,
  summary: RunSummary | null,
  sessionId: string | null,
  runTimeoutMs: number,
): Outcome {
  switch (reason) {
    case 'interrupt':
      return {
        summary: summary ? { ...summary, interrupted: true } : interruptedSummary(sessionId),
      };
    case 'timeout':
      return { error: { code: 'run_timeout', message: `the run exceeded ${runTimeoutMs} ms` } };
    case 'shutdown':
      return {
        error: {
          code: 'shutting_down',
          message: 'the host shut down before the run finished; files changed so far are saved',
        },
      };
  }
}

/** The summary of a run interrupted before the agent reported one. */
export function interruptedSummary(sessionId: string | null): RunSummary {
  return {
    sessionId,
    subtype: 'interrupted',
    isError: false,
    interrupted: true,
    durationMs: 0,
    numTurns: 0,
    totalCostUsd: null,
    usage: null,
    result: null,
  };
}
