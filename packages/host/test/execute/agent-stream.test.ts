import { WorkcellError, type AgentEvent } from '@workcell/protocol';
import { describe, expect, it } from 'vitest';
import {
  agentRunResult,
  applyAgentEvent,
  initialAgentStream,
  type AgentStreamState,
  type StreamEnd,
} from '../../src/execute/agent-stream.js';
import { summary } from './harness.js';

function fold(events: AgentEvent[]): { state: AgentStreamState; messages: unknown[] } {
  let state = initialAgentStream;
  const messages: unknown[] = [];
  for (const e of events) {
    const next = applyAgentEvent(state, e);
    if (next.message) messages.push(next.message);
    state = next.state;
  }
  return { state, messages };
}

const result = (
  events: AgentEvent[],
  end: StreamEnd = { kind: 'closed' },
  stopReason: 'interrupt' | 'timeout' | 'shutdown' | null = null,
) =>
  agentRunResult({
    state: fold(events).state,
    end,
    stopReason,
    previousSessionId: 'sess-old',
    runTimeoutMs: 1000,
  });

const init = { type: 'sdk', message: { type: 'system', subtype: 'init', session_id: 'sess-2' } };

describe('translating the agent stream into an outcome', () => {
  it('records every SDK message, learns the session from init, and ends with the agent summary', () => {
    const events: AgentEvent[] = [
      { type: 'run.started', runId: 'r' },
      init as AgentEvent,
      { type: 'sdk', message: { type: 'assistant' } },
      { type: 'run.completed', summary: summary({ sessionId: 'sess-2' }) },
    ];
    const { state, messages } = fold(events);
    expect(state.started).toBe(true);
    expect(messages).toHaveLength(2);
    expect(result(events)).toEqual({
      outcome: { summary: summary({ sessionId: 'sess-2' }) },
      sessionId: 'sess-2',
      container: 'keep',
    });
  });

  it("keeps the agent's own error codes", () => {
    const r = result([
      { type: 'run.failed', error: { code: 'session_lost', message: 'no transcript' } },
    ]);
    expect(r.outcome).toEqual({ error: { code: 'session_lost', message: 'no transcript' } });
  });

  it('turns an error code the agent may not send into agent_failed', () => {
    const r = result([
      { type: 'run.failed', error: { code: 'unauthorized', message: 'trust me' } },
    ]);
    expect(r.outcome).toEqual({
      error: {
        code: 'agent_failed',
        message: 'the agent reported an error code it may not send (unauthorized): trust me',
      },
    });
  });

  it('fails container_failed and removes the container when the stream closes without an ending', () => {
    const r = result([{ type: 'run.started', runId: 'r' }]);
    expect(r).toMatchObject({
      outcome: { error: { code: 'container_failed' } },
      container: 'remove',
    });
  });

  it('fails agent_unavailable when the connection fails, keeping an agent_* code the client saw', () => {
    expect(result([], { kind: 'failed', error: new Error('ECONNREFUSED') })).toEqual({
      outcome: { error: { code: 'agent_unavailable', message: 'ECONNREFUSED' } },
      sessionId: null,
      container: 'remove',
    });
    const busy = new WorkcellError('agent_busy', 'the agent has a run');
    expect(result([], { kind: 'failed', error: busy }).outcome).toEqual({
      error: { code: 'agent_busy', message: 'the agent has a run' },
    });
  });

  it('completes an interrupted run marked interrupted, with the summary when the agent sent one', () => {
    const withSummary = result(
      [{ type: 'run.completed', summary: summary() }],
      { kind: 'closed' },
      'interrupt',
    );
    expect(withSummary.outcome).toEqual({ summary: summary({ interrupted: true }) });
    const cut = result([init as AgentEvent], { kind: 'cut' }, 'interrupt');
    expect(cut).toMatchObject({
      outcome: { summary: { interrupted: true, subtype: 'interrupted', sessionId: 'sess-2' } },
      container: 'keep-if-idle',
    });
  });

  it('fails a timed-out or shut-down run with its own code, whatever the agent said', () => {
    const done: AgentEvent[] = [{ type: 'run.completed', summary: summary() }];
    expect(result(done, { kind: 'closed' }, 'timeout').outcome).toEqual({
      error: { code: 'run_timeout', message: 'the run exceeded 1000 ms' },
    });
    expect(result(done, { kind: 'cut' }, 'shutdown')).toMatchObject({
      outcome: { error: { code: 'shutting_down' } },
      container: 'keep-if-idle',
    });
  });

  it('falls back to the previous session when a stopped run never named one', () => {
    const r = result([], { kind: 'cut' }, 'interrupt');
    expect(r.outcome).toMatchObject({ summary: { sessionId: 'sess-old' } });
    expect(r.sessionId).toBeNull();
  });
});
