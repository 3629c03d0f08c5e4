import { isRunEventName, type RunEventName } from '@workcell/protocol';
import type { BufferedEvent } from '../state/state-store.js';

/**
 * A finished run's durable event log: one JSON object per line, `{seq, event, data}`, where
 * `data` is the event's JSON as the client receives it. The catalog writes and reads this
 * format and nothing else does.
 */
export const RUN_LOG_CONTENT_TYPE = 'application/x-ndjson';

export function encodeRunLog(events: readonly BufferedEvent[]): Buffer {
  return Buffer.from(events.map((e) => JSON.stringify(e)).join('\n') + '\n');
}

/** Parses a stored run log; a line that is not a run event is an error (the log is ours). */
export function decodeRunLog(text: string): BufferedEvent[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line, i) => {
      const parsed = JSON.parse(line) as { seq?: unknown; event?: unknown; data?: unknown };
      if (
        typeof parsed.seq !== 'number' ||
        !isRunEventName(parsed.event) ||
        typeof parsed.data !== 'string'
      )
        throw new Error(`run log line ${i + 1} is not a run event`);
      return { seq: parsed.seq, event: parsed.event, data: parsed.data };
    });
}

/** A run event with its data serialised, numbered `seq`. */
export function runEvent(seq: number, event: RunEventName, data: unknown): BufferedEvent {
  return { seq, event, data: JSON.stringify(data) };
}
