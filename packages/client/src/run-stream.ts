import type { RunEvent, RunEventName } from '@workcell/protocol';
import { WorkcellApiError, errorFromResponse, unreachable } from './errors.js';
import { SseParser, type SseFrame } from './sse.js';

/** How a run's event stream reconnects after the connection drops. */
export interface ReconnectOptions {
  /** Reconnections tried in a row without receiving an event before giving up. Default 8. */
  attempts?: number;
  /** The first wait before reconnecting; it doubles each time up to `maxDelayMs`. Default 250. */
  delayMs?: number;
  /** Default 5000. */
  maxDelayMs?: number;
  /**
   * A connection that brings nothing (not even the host's keep-alive comment, sent every 15 s)
   * for this long counts as dropped. Default 45000.
   */
  idleTimeoutMs?: number;
}

/** Opens one HTTP response carrying the run's SSE events. */
export type OpenStream = (signal: AbortSignal) => Promise<Response>;

export interface RunStreamSource {
  /** The first connection (the message POST, or the events GET). */
  open: OpenStream;
  /** Whether `open` may be tried again: a POST that may have reached the host must not be. */
  openIsRetryable: boolean;
  /** A resumption: the run's events after `after`, with `Last-Event-ID`. */
  resume: (runId: string, after: number, signal: AbortSignal) => Promise<Response>;
  /** Where the stream starts (events after this seq); 0 for the whole run. */
  after: number;
  /** The run's id when known up front (the events route). */
  runId: string | null;
  url: string;
}

const RUN_ID_HEADER = 'x-workcell-run-id';
/** The events that end a run (the protocol's TERMINAL_RUN_EVENTS, kept as types only so a
 * browser bundle of the client carries no schema code). */
const TERMINAL = new Set<string>(['run.completed', 'run.failed'] satisfies RunEventName[]);

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** 5xx, 429 and no answer at all are worth another try; any other error answer is final. */
function retryable(err: unknown): boolean {
  if (!(err instanceof WorkcellApiError)) return true;
  return err.status === 0 || err.status === 429 || err.status >= 500;
}

/**
 * A run's events as an async iterable: each event once, in order, ending after `run.completed`
 * or `run.failed`. When the connection drops before the terminal event it reconnects to the
 * events route with `Last-Event-ID` (the last seq it delivered) and skips anything it already
 * delivered, so a consumer sees no gap and no repeat. Iterate it once; leaving the loop early
 * (or aborting `signal`) closes the connection and leaves the run going on the host.
 */
export class RunEventStream implements AsyncIterable<RunEvent> {
  private seq: number;
  private id: string | null;
  private started = false;
  private readonly reconnect: Required<ReconnectOptions>;

  constructor(
    private readonly source: RunStreamSource,
    private readonly signal: AbortSignal | undefined,
    reconnect: ReconnectOptions = {},
  ) {
    this.seq = source.after;
    this.id = source.runId;
    this.reconnect = {
      attempts: reconnect.attempts ?? 8,
      delayMs: reconnect.delayMs ?? 250,
      maxDelayMs: reconnect.maxDelayMs ?? 5_000,
      idleTimeoutMs: reconnect.idleTimeoutMs ?? 45_000,
    };
  }

  /** The run's id, once the host has said it (at once for `events()`). */
  get runId(): string | null {
    return this.id;
  }

  /** The seq of the last event delivered (the `after` it started from before any). */
  get lastSeq(): number {
    return this.seq;
  }

  /** Collects every event to the end of the run. */
  async toArray(): Promise<RunEvent[]> {
    const out: RunEvent[] = [];
    for await (const event of this) out.push(event);
    return out;
  }

  [Symbol.asyncIterator](): AsyncIterator<RunEvent> {
    if (this.started) throw new Error('a run event stream can be iterated once');
    this.started = true;
    return this.iterate();
  }

  private async *iterate(): AsyncGenerator<RunEvent> {
    const outer = new AbortController();
    const onAbort = (): void => outer.abort(this.signal?.reason);
    if (this.signal?.aborted) onAbort();
    this.signal?.addEventListener('abort', onAbort, { once: true });
    let failures = 0;
    let first = true;
    try {
      for (;;) {
        const connection = new AbortController();
        const stop = (): void => connection.abort(outer.signal.reason);
        outer.signal.addEventListener('abort', stop, { once: true });
        try {
          const res = await this.connect(first, connection.signal, outer.signal);
          const fromPost = first;
          first = false;
          if (res === null) return;
          const runId = res.headers.get(RUN_ID_HEADER);
          if (runId && !this.id) this.id = runId;
          let ended = false;
          for await (const event of this.read(res, connection)) {
            failures = 0;
            yield event;
            if (TERMINAL.has(event.event)) {
              ended = true;
              break;
            }
          }
          if (ended) return;
          if (fromPost && !this.source.openIsRetryable && this.id === null) {
            throw new WorkcellApiError(
              0,
              'dependency_unavailable',
              'the connection closed before the run said its id; it may still be running',
            );
          }
        } catch (err) {
          if (outer.signal.aborted) throw outer.signal.reason;
          if (!retryable(err)) throw err;
          if (first && !this.source.openIsRetryable) throw err;
          first = false;
          if (this.id === null) throw err;
        } finally {
          outer.signal.removeEventListener('abort', stop);
          connection.abort();
        }
        failures += 1;
        if (failures > this.reconnect.attempts) {
          throw new WorkcellApiError(
            0,
            'dependency_unavailable',
            `the event stream of run ${this.id ?? '?'} dropped ${failures} times in a row; gave up after seq ${this.seq}`,
          );
        }
        const delay = Math.min(
          this.reconnect.delayMs * 2 ** (failures - 1),
          this.reconnect.maxDelayMs,
        );
        await sleep(delay, outer.signal);
      }
    } finally {
      this.signal?.removeEventListener('abort', onAbort);
      outer.abort();
    }
  }

  /** Opens or reopens the stream; null when the run has ended with nothing after `lastSeq` (204). */
  private async connect(
    first: boolean,
    signal: AbortSignal,
    outer: AbortSignal,
  ): Promise<Response | null> {
    let res: Response;
    try {
      if (first) res = await this.source.open(signal);
      else if (this.id !== null) res = await this.source.resume(this.id, this.seq, signal);
      else throw new WorkcellApiError(0, 'dependency_unavailable', 'the run id is not known');
    } catch (err) {
      if (outer.aborted || err instanceof WorkcellApiError) throw err;
      throw unreachable(this.source.url, err);
    }
    if (res.status === 204) return null;
    if (!res.ok) throw await errorFromResponse(res);
    if (!res.body)
      throw new WorkcellApiError(res.status, 'internal', 'the event stream has no body');
    return res;
  }

  /** The new events of one response, in order; returns when the response ends or goes idle. */
  private async *read(res: Response, connection: AbortController): AsyncGenerator<RunEvent> {
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    const parser = new SseParser();
    let idle: ReturnType<typeof setTimeout> | undefined;
    const arm = (): void => {
      clearTimeout(idle);
      idle = setTimeout(
        () => connection.abort(new Error('the event stream went idle')),
        this.reconnect.idleTimeoutMs,
      );
    };
    try {
      arm();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        arm();
        for (const frame of parser.push(decoder.decode(value, { stream: true }))) {
          const event = this.accept(frame);
          if (event) yield event;
        }
      }
    } finally {
      clearTimeout(idle);
      await reader.cancel().catch(() => undefined);
    }
  }

  /** The typed event for a frame, or null for one already delivered. */
  private accept(frame: SseFrame): RunEvent | null {
    const seq = Number(frame.id);
    if (!Number.isInteger(seq) || seq <= this.seq) return null;
    let data: unknown;
    try {
      data = JSON.parse(frame.data);
    } catch {
      throw new WorkcellApiError(0, 'internal', `event ${seq} of the run is not JSON`);
    }
    this.seq = seq;
    if (frame.event === 'run.started' && this.id === null) {
      const runId = (data as { runId?: unknown }).runId;
      if (typeof runId === 'string') this.id = runId;
    }
    // The host's events are the protocol's run events; a name this client does not know yet
    // (a newer host) is passed through as it came.
    return { seq, event: frame.event, data } as RunEvent;
  }
}
