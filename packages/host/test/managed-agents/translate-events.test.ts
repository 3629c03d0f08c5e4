import { describe, expect, it } from 'vitest';
import { RunTranslator, type RunEventInput } from '../../src/managed-agents/translate-events.js';

const meta = {
  runId: 'run_abcdefghijklmnop',
  startedAt: '2026-01-01T00:00:00.000Z',
  endedAt: () => '2026-01-01T00:00:05.000Z',
};

const assistant = (
  id: string,
  content: unknown[],
  usage = { input_tokens: 10, output_tokens: 5 },
) => ({
  type: 'assistant',
  parent_tool_use_id: null,
  message: { id, content, usage },
});

function translate(events: RunEventInput[]): ReturnType<RunTranslator['push']> {
  const t = new RunTranslator(meta);
  return events.flatMap((e) => t.push(e));
}

describe('run events as Managed Agents session events', () => {
  it('a turn with a toolset tool, an MCP tool and a reply', () => {
    const out = translate([
      { seq: 1, event: 'run.started', data: {} },
      { seq: 2, event: 'user.message', data: { content: 'x' } },
      {
        seq: 3,
        event: 'message',
        data: assistant('m1', [
          { type: 'text', text: 'looking' },
          {
            type: 'tool_use',
            id: 'toolu_1',
            name: 'Read',
            input: { file_path: '/a', offset: 3, limit: 2 },
          },
        ]),
      },
      {
        seq: 4,
        event: 'message',
        data: {
          type: 'user',
          message: { content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'abc' }] },
        },
      },
      {
        seq: 5,
        event: 'message',
        data: assistant('m2', [
          { type: 'tool_use', id: 'toolu_2', name: 'mcp__docs__search', input: { q: 'x' } },
        ]),
      },
      {
        seq: 6,
        event: 'message',
        data: {
          type: 'user',
          message: {
            content: [
              {
                type: 'tool_result',
                tool_use_id: 'toolu_2',
                content: [{ type: 'text', text: 'hit' }],
                is_error: true,
              },
            ],
          },
        },
      },
      { seq: 7, event: 'message', data: { type: 'stream_event', event: {} } },
      {
        seq: 8,
        event: 'message',
        data: assistant('m3', [
          { type: 'thinking', thinking: 'hm' },
          { type: 'text', text: 'done' },
        ]),
      },
      { seq: 9, event: 'run.completed', data: {} },
    ]);
    expect(out.map((e) => e.type)).toEqual([
      'session.status_running',
      'span.model_request_start',
      'agent.message',
      'agent.tool_use',
      'span.model_request_end',
      'agent.tool_result',
      'span.model_request_start',
      'agent.mcp_tool_use',
      'span.model_request_end',
      'agent.mcp_tool_result',
      'span.model_request_start',
      'agent.thinking',
      'agent.message',
      'span.model_request_end',
      'session.status_idle',
    ]);
    const use = out[3];
    expect(use).toMatchObject({
      name: 'read',
      input: { file_path: '/a', view_range: [3, 4] },
      evaluated_permission: 'allow',
    });
    expect(out[5]).toMatchObject({
      tool_use_id: use?.id,
      content: [{ type: 'text', text: 'abc' }],
      is_error: false,
    });
    expect(out[7]).toMatchObject({ mcp_server_name: 'docs', name: 'search', input: { q: 'x' } });
    expect(out[9]).toMatchObject({ mcp_tool_use_id: out[7]?.id, is_error: true });
    expect(out[4]).toMatchObject({
      model_request_start_id: out[1]?.id,
      model_usage: { input_tokens: 10, output_tokens: 5 },
    });
    expect(out.at(-1)).toMatchObject({
      stop_reason: { type: 'end_turn' },
      processed_at: '2026-01-01T00:00:05.000Z',
    });
    expect(new Set(out.map((e) => e.id)).size).toBe(out.length);
    for (const e of out) expect(e.id).toMatch(/^sevt_/);
  });

  it('the same events give the same ids (the stream and the history agree)', () => {
    const events: RunEventInput[] = [
      { seq: 1, event: 'run.started', data: {} },
      { seq: 2, event: 'message', data: assistant('m1', [{ type: 'text', text: 'hi' }]) },
      { seq: 3, event: 'run.completed', data: {} },
    ];
    expect(translate(events).map((e) => e.id)).toEqual(translate(events).map((e) => e.id));
  });

  it('a failed run is a session error, then idle with retries exhausted', () => {
    const out = translate([
      { seq: 1, event: 'run.started', data: {} },
      { seq: 2, event: 'run.failed', data: { code: 'container_start_failed', message: 'no' } },
    ]);
    expect(out.map((e) => e.type)).toEqual([
      'session.status_running',
      'session.error',
      'session.status_idle',
    ]);
    expect(out[1]).toMatchObject({
      error: { type: 'unknown_error', message: 'container_start_failed: no' },
    });
    expect(out[2]).toMatchObject({ stop_reason: { type: 'retries_exhausted' } });
  });

  it("a client tool's call is a custom tool use; subagent messages are not shown", () => {
    const out = translate([
      {
        seq: 1,
        event: 'message',
        data: assistant('m1', [
          { type: 'tool_use', id: 't', name: 'mcp__workcell_client__lookup', input: { n: 1 } },
        ]),
      },
      {
        seq: 2,
        event: 'message',
        data: { ...assistant('m2', [{ type: 'text', text: 'inner' }]), parent_tool_use_id: 'x' },
      },
    ]);
    expect(out.map((e) => e.type)).toEqual(['span.model_request_start', 'agent.custom_tool_use']);
    expect(out[1]).toMatchObject({ name: 'lookup', input: { n: 1 } });
  });
});
