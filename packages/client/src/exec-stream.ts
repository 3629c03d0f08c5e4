import type { ExecEvent } from '@workcell/protocol';
import { WorkcellApiError } from './errors.js';
import { SseParser } from './sse.js';

const EXEC_EVENTS = new Set(['stdout', 'stderr', 'exit']);

/**
 * The events of a streamed exec answer (`stdout`, `stderr`, then `exit`), in order. The stream
 * is not resumable: a connection that drops before `exit` throws, and the command was killed.
 */
export async function* readExecEvents(res: Response): AsyncGenerator<ExecEvent> {
  if (!res.body) throw new WorkcellApiError(res.status, 'internal', 'the exec stream has no body');
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  const parser = new SseParser();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      for (const frame of parser.push(decoder.decode(value, { stream: true }))) {
        if (!EXEC_EVENTS.has(frame.event)) continue;
        const event = { event: frame.event, data: JSON.parse(frame.data) as unknown } as ExecEvent;
        yield event;
        if (event.event === 'exit') return;
      }
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  throw new WorkcellApiError(0, 'internal', 'the exec stream ended before the command did');
}
