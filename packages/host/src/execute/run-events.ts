import { EventEmitter } from 'node:events';
import type { BufferedEvent, StateStore } from '../state/state-store.js';

/** SSE event names of a run (DESIGN.md). */
export type RunEventName = 'run.started' | 'message' | 'run.completed' | 'run.failed';

export const TERMINAL_EVENTS: ReadonlySet<string> = new Set(['run.completed', 'run.failed']);

/**
 * The events of live runs: each is numbered (`seq` from 1, no gaps), buffered in the
 * StateStore so a client on any host can replay it, and announced in-process so followers on
 * this host get it at once. After the run it is persisted to the object store by the caller.
 */
export class RunEventLog {
  private readonly emitter = new EventEmitter();
  private readonly seqs = new Map<string, number>();

  constructor(private readonly state: StateStore) {
    this.emitter.setMaxListeners(0);
  }

  /** Records the next event of `runId` and wakes its followers. */
  async append(runId: string, event: RunEventName, data: unknown): Promise<BufferedEvent> {
    const seq = (this.seqs.get(runId) ?? 0) + 1;
    this.seqs.set(runId, seq);
    const buffered: BufferedEvent = { seq, event, data: JSON.stringify(data) };
    await this.state.appendRunEvent(runId, buffered);
    this.emitter.emit(runId, buffered);
    if (TERMINAL_EVENTS.has(event)) this.seqs.delete(runId);
    return buffered;
  }

  /** Events after `afterSeq` that are in the buffer now. */
  read(runId: string, afterSeq: number): Promise<BufferedEvent[]> {
    return this.state.readRunEvents(runId, afterSeq);
  }

  /**
   * Follows a run from `afterSeq`: replays what is buffered, then yields live events, in
   * order and each once, until a terminal event or `signal` aborts. Events produced by another
   * host are picked up by polling the buffer.
   */
  async *follow(runId: string, afterSeq: number, signal: AbortSignal, pollMs = 500): AsyncGenerator<BufferedEvent> {
    let last = afterSeq;
    const pending: BufferedEvent[] = [];
    let wake: (() => void) | null = null;
    const onEvent = (e: BufferedEvent): void => {
      pending.push(e);
      wake?.();
    };
    const onAbort = (): void => wake?.();
    this.emitter.on(runId, onEvent);
    signal.addEventListener('abort', onAbort);
    try {
      for (;;) {
        const batch = pending.length > 0 ? pending.splice(0) : await this.state.readRunEvents(runId, last);
        for (const e of batch) {
          if (e.seq <= last) continue;
          if (e.seq > last + 1) {
            // A gap: fetch what is missing from the buffer before going on.
            const missing = await this.state.readRunEvents(runId, last, e.seq - last - 1);
            for (const m of missing) {
              yield m;
              last = m.seq;
            }
            if (e.seq !== last + 1) continue;
          }
          yield e;
          last = e.seq;
          if (TERMINAL_EVENTS.has(e.event)) return;
        }
        if (signal.aborted) return;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, pollMs);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
          if (pending.length > 0 || signal.aborted) wake();
        });
        wake = null;
      }
    } finally {
      this.emitter.off(runId, onEvent);
      signal.removeEventListener('abort', onAbort);
    }
  }

  /** Drops the live buffer of a finished run after `ttlMs`. */
  expire(runId: string, ttlMs: number): Promise<void> {
    return this.state.expireRunEvents(runId, ttlMs);
  }
}
