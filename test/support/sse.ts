/** One parsed Server-Sent Event. */
export interface SseEvent {
  id: string | null;
  event: string;
  data: string;
}

/** Parses SSE text incrementally; feed it chunks, read complete events. */
export class SseParser {
  private buffer = '';

  push(chunk: string): SseEvent[] {
    this.buffer += chunk;
    const out: SseEvent[] = [];
    for (;;) {
      const end = this.buffer.indexOf('\n\n');
      if (end < 0) break;
      const block = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      let id: string | null = null;
      let event = 'message';
      const data: string[] = [];
      let any = false;
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'id') id = value;
        else if (field === 'event') event = value;
        else if (field === 'data') data.push(value);
        else continue;
        any = true;
      }
      if (any) out.push({ id, event, data: data.join('\n') });
    }
    return out;
  }
}

/**
 * Reads an SSE response to its end (or until `stopAfter` returns true, then aborts),
 * answering every event in order.
 */
export async function readSse(
  res: Response,
  options: { stopAfter?: (e: SseEvent, all: SseEvent[]) => boolean; abort?: AbortController } = {},
): Promise<SseEvent[]> {
  if (!res.body) throw new Error('response has no body');
  const parser = new SseParser();
  const all: SseEvent[] = [];
  const decoder = new TextDecoder();
  const reader = res.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      for (const e of parser.push(decoder.decode(value, { stream: true }))) {
        all.push(e);
        if (options.stopAfter?.(e, all)) {
          options.abort?.abort();
          await reader.cancel().catch(() => undefined);
          return all;
        }
      }
    }
  } finally {
    reader.releaseLock();
  }
  return all;
}
