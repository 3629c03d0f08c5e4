import {
  WorkcellError,
  isAgentErrorCode,
  type AgentEvent,
  type ErrorBody,
  type ReadyFallbackReason,
} from '@workcell/protocol';
import type { AgentItemEvent } from '../approvals/index.js';
import { stoppedOutcome, type Outcome, type StopReason } from './run-outcome.js';

/** What the host has learnt from an agent's event stream so far. */
export interface AgentStreamState {
  /** The agent accepted the run (`run.started`): an interrupt reaches it from now on. */
  started: boolean;
  /** The SDK session the run uses, once the agent names it. */
  sessionId: string | null;
  /** The agent's own ending (`run.completed` / `run.failed`), once it sent one. */
  ending: Outcome | null;
  /** Whether the turn went to the agent's ready process, or why not, once the agent says. */
  ready: { used: boolean; reason?: ReadyFallbackReason } | null;
}

export const initialAgentStream: AgentStreamState = {
  started: false,
  sessionId: null,
  ending: null,
  ready: null,
};

/**
 * One step of the stream: the new state, the SDK message to record, if the event carries one,
 * and the approval or client-tool event, if it is one.
 */
export interface AgentStreamStep {
  state: AgentStreamState;
  message: Record<string, unknown> | null;
  item?: AgentItemEvent;
}

/**
 * Folds one agent event into the stream's state. The agent is untrusted: an error code it may
 * not send (`AGENT_ERROR_CODES`) becomes `agent_failed`, naming the code it sent.
 */
export function applyAgentEvent(state: AgentStreamState, event: AgentEvent): AgentStreamStep {
  switch (event.type) {
    case 'run.started':
      return { state: { ...state, started: true }, message: null };
    case 'ready':
      return {
        state: {
          ...state,
          ready: { used: event.used, ...(event.reason ? { reason: event.reason } : {}) },
        },
        message: null,
      };
    case 'sdk': {
      const m = event.message;
      const sessionId =
        m.type === 'system' && m.subtype === 'init' && typeof m.session_id === 'string'
          ? m.session_id
          : state.sessionId;
      return { state: { ...state, sessionId }, message: m };
    }
    case 'run.completed':
      return {
        state: {
          ...state,
          sessionId: event.summary.sessionId ?? state.sessionId,
          ending: { summary: event.summary },
        },
        message: null,
      };
    case 'run.failed':
      return { state: { ...state, ending: { error: agentError(event.error) } }, message: null };
    case 'approval.requested':
    case 'approval.resolved':
    case 'tool.requested':
    case 'tool.resolved':
      return { state, message: null, item: event };
  }
}

/** An error the agent reported, kept only when its code is one an agent may send. */
export function agentError(reported: ErrorBody): ErrorBody {
  if (isAgentErrorCode(reported.code)) return reported;
  return {
    code: 'agent_failed',
    message: `the agent reported an error code it may not send (${reported.code}): ${reported.message}`,
  };
}

/** How the stream from the agent stopped. */
export type StreamEnd =
  /** The agent closed the stream. */
  | { kind: 'closed' }
  /** The host cut the connection (a stop the agent did not honour in time). */
  | { kind: 'cut' }
  /** The connection failed (the agent's socket, or its answer to the run request). */
  | { kind: 'failed'; error: unknown };

/**
 * What becomes of the container after the run: kept, removed, or kept only if its agent lets
 * go of the run (the connection was cut: the caller waits for the agent to be idle).
 */
export type ContainerVerdict = 'keep' | 'remove' | 'keep-if-idle';

export interface AgentRunResult {
  outcome: Outcome;
  /** The session the conversation resumes next; null to keep the one it had. */
  sessionId: string | null;
  container: ContainerVerdict;
}

/**
 * The outcome of a run on the agent, from what its stream said (`state`), how the stream
 * stopped, and whether the host asked the run to stop. Pure: every rule of how an agent stream
 * becomes a `run.completed` or `run.failed` lives here.
 *
 * - the connection failed (not cut by the host): the agent's `agent_*` error, else
 *   `agent_unavailable`; the container is removed;
 * - the stream closed without an ending: `container_failed` (the container may have been
 *   killed); removed;
 * - a stop was asked (interrupt, timeout, shutdown): its outcome (`stoppedOutcome`), with the
 *   agent's summary when it sent one;
 * - otherwise the agent's ending.
 */
export function agentRunResult(input: {
  state: AgentStreamState;
  end: StreamEnd;
  stopReason: StopReason | null;
  /** The session the conversation had before the run. */
  previousSessionId: string | null;
  runTimeoutMs: number;
}): AgentRunResult {
  const { state, end, stopReason } = input;
  const { sessionId } = state;
  if (end.kind === 'failed') {
    const { error } = end;
    const body: ErrorBody =
      error instanceof WorkcellError &&
      (error.code.startsWith('agent_') ||
        error.code === 'container_lost' ||
        error.code === 'events_lost')
        ? error.toBody()
        : {
            code: 'agent_unavailable',
            message: error instanceof Error ? error.message : String(error),
          };
    return { outcome: { error: body }, sessionId, container: 'remove' };
  }
  if (end.kind === 'closed' && !state.ending) {
    return {
      outcome: {
        error: {
          code: 'container_failed',
          message: 'the agent stopped before the run ended (the container may have been killed)',
        },
      },
      sessionId,
      container: 'remove',
    };
  }
  const container: ContainerVerdict = end.kind === 'cut' ? 'keep-if-idle' : 'keep';
  if (stopReason) {
    const summary = state.ending && 'summary' in state.ending ? state.ending.summary : null;
    return {
      outcome: stoppedOutcome(
        stopReason,
        summary,
        sessionId ?? input.previousSessionId,
        input.runTimeoutMs,
      ),
      sessionId,
      container,
    };
  }
  return {
    outcome: state.ending ?? {
      error: { code: 'container_failed', message: 'the agent stopped before the run ended' },
    },
    sessionId,
    container,
  };
}
