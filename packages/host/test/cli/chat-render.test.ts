import type { RunEvent } from '@workcell/client';
import { describe, expect, it } from 'vitest';
import { ChatRenderer, describeToolCall } from '../../src/cli/chat-render.js';

function render(events: RunEvent[]): { out: string; err: string } {
  let out = '';
  let err = '';
  const r = new ChatRenderer({ out: (t) => (out += t), err: (t) => (err += t) });
  for (const e of events) r.event(e);
  r.finish();
  return { out, err };
}

let seq = 0;
const msg = (data: Record<string, unknown>): RunEvent =>
  ({ seq: ++seq, event: 'message', data }) as RunEvent;
const delta = (text: string): RunEvent =>
  msg({
    type: 'stream_event',
    event: { type: 'content_block_delta', delta: { type: 'text_delta', text } },
  });
const start = (): RunEvent => msg({ type: 'stream_event', event: { type: 'message_start' } });
const assistant = (...content: unknown[]): RunEvent =>
  msg({ type: 'assistant', message: { content } });
const summary = (interrupted: boolean): RunEvent =>
  ({
    seq: ++seq,
    event: 'run.completed',
    data: {
      sessionId: 's',
      subtype: 'success',
      isError: false,
      interrupted,
      durationMs: 5,
      numTurns: 1,
      totalCostUsd: null,
      usage: null,
      result: null,
    },
  }) as RunEvent;

describe('workcell chat output', () => {
  it('prints streamed text once (not again from the whole assistant message) and a tool call as one line', () => {
    const { out } = render([
      start(),
      delta('Writing '),
      delta('it now.'),
      assistant(
        { type: 'text', text: 'Writing it now.' },
        {
          type: 'tool_use',
          id: 't1',
          name: 'Write',
          input: { file_path: '/workspace/a.txt', content: 'x\ny' },
        },
      ),
      msg({
        type: 'user',
        message: { content: [{ type: 'tool_result', tool_use_id: 't1', content: 'ok' }] },
      }),
      start(),
      delta('done'),
      assistant({ type: 'text', text: 'done' }),
      summary(false),
    ]);
    expect(out).toBe('Writing it now.\n• Write /workspace/a.txt\ndone\n');
  });

  it('prints an assistant message whole when its text did not stream', () => {
    expect(render([assistant({ type: 'text', text: 'whole' }), summary(false)]).out).toBe(
      'whole\n',
    );
  });

  it('shows a failed tool result in one line, an interrupted run, and a failed run on stderr', () => {
    const { out, err } = render([
      assistant({ type: 'tool_use', id: 't2', name: 'Bash', input: { command: 'false' } }),
      msg({
        type: 'user',
        message: {
          content: [
            { type: 'tool_result', tool_use_id: 't2', is_error: true, content: 'exit 1\nboom' },
          ],
        },
      }),
      summary(true),
      { seq: ++seq, event: 'run.failed', data: { code: 'run_timeout', message: 'too slow' } },
    ]);
    expect(out).toBe('• Bash false\n  ! exit 1 boom\n[interrupted]\n');
    expect(err).toBe('error: run_timeout: too slow\n');
  });

  it('keeps a tool line to one short line whatever the input', () => {
    const line = describeToolCall('Bash', { command: `echo ${'x'.repeat(500)}\nrm -rf /` });
    expect(line).not.toContain('\n');
    expect(line.length).toBeLessThanOrEqual(100);
    expect(describeToolCall('Custom', { a: 1 })).toBe('Custom {"a":1}');
  });
});
