import { expect } from 'vitest';
import type { Client } from '../orchestrator/support.js';
import { SseParser, type SseEvent } from './sse.js';

/**
 * Follows a run's events from after `afterSeq` until its terminal event, `stopAfter`, or the
 * host going away; answers what arrived (a cut connection is not an error here).
 */
export async function follow(
  c: Client,
  conversationId: string,
  runId: string,
  afterSeq: number,
  stopAfter?: (e: SseEvent) => boolean,
  /** Gives up on the connection at this time (epoch ms): a stream that stays quiet ends then. */
  deadline?: number,
): Promise<SseEvent[]> {
  const abort = new AbortController();
  const all: SseEvent[] = [];
  const timer =
    deadline === undefined
      ? undefined
      : setTimeout(() => abort.abort(), Math.max(0, deadline - Date.now()));
  try {
    const res = await c.api(`/v1/conversations/${conversationId}/runs/${runId}/events`, {
      headers: {
        accept: 'text/event-stream',
        ...(afterSeq > 0 ? { 'last-event-id': String(afterSeq) } : {}),
      },
      signal: abort.signal,
    });
    if (res.status === 204) return all;
    expect(res.status).toBe(200);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const parser = new SseParser();
    const decoder = new TextDecoder();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      for (const e of parser.push(decoder.decode(value, { stream: true }))) {
        all.push(e);
        if (e.event === 'run.completed' || e.event === 'run.failed' || stopAfter?.(e)) {
          abort.abort();
          return all;
        }
      }
    }
  } catch {
    // The host went away mid-stream (or the deadline passed): what arrived is the answer.
  } finally {
    clearTimeout(timer);
  }
  return all;
}

/** Follows through `c` from `afterSeq`, resuming after every cut, until the run's end. */
export async function followToEnd(
  c: () => Client,
  conversationId: string,
  runId: string,
  afterSeq: number,
  timeoutMs = 120_000,
  onEvent?: (e: SseEvent) => void,
): Promise<SseEvent[]> {
  const all: SseEvent[] = [];
  let last = afterSeq;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const got = await follow(
      c(),
      conversationId,
      runId,
      last,
      (e) => {
        onEvent?.(e);
        return false;
      },
      deadline,
    );
    all.push(...got);
    if (got.length > 0) last = Number(got.at(-1)?.id);
    const end = all.at(-1)?.event;
    if (end === 'run.completed' || end === 'run.failed') return all;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`run ${runId} did not end in ${timeoutMs} ms`);
}

export const seqs = (events: SseEvent[]): number[] => events.map((e) => Number(e.id));
