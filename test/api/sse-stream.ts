import { SseParser, type SseEvent } from '../support/sse.js';

/** The events of an SSE response as they arrive; breaking out of the loop closes the connection. */
export async function* sseEvents(res: Response): AsyncGenerator<SseEvent> {
  if (!res.body) throw new Error('response has no body');
  const parser = new SseParser();
  const decoder = new TextDecoder();
  const reader = res.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield* parser.push(decoder.decode(value, { stream: true }));
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

export const isTerminal = (e: SseEvent): boolean =>
  e.event === 'run.completed' || e.event === 'run.failed';
