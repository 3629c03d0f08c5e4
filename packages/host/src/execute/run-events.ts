import {
  WorkcellError,
  isTerminalRunEvent,
  type RunEventName,
  type TerminalRunEventName,
} from '@workcell/protocol';
import type { Logger } from 'pino';
import { runEvent } from '../catalog/run-log.js';
import { untilStored, type StoreRetry } from '../dependencies/retry.js';
import type { BufferedEvent, StateStore } from '../state/state-store.js';
import { systemClock, type Clock, type Timer } from '../time/clock.js';

/**
 * The most events of one run that wait in memory for the StateStore buffer (while it is away);
 * past it the run stops buffering and followers on other hosts read its durable log at its end.
 */
export const MAX_UNBUFFERED_EVENTS = 10_000;

/**
 * How many times one event's write rewrites the events a buffer lost (each a failover) before it
 * gives up on buffering the run.
 */
const MAX_BUFFER_REPAIRS = 3;

/** How long a finished run's events stay in the StateStore buffer. */
export const EVENT_BUFFER_TTL_MS = 3_600_000;

export type { RunEventName } from '@workcell/protocol';

export const TERMINAL_EVENTS: ReadonlySet<RunEventName> = new Set<TerminalRunEventName>([
  'run.completed',
  'run.failed',
]);

export const isTerminal = (e: BufferedEvent): boolean => isTerminalRunEvent(e.event);

/** Where a follower finds a run that is not live on this host once the buffer has nothing new. */
export interface FinishedRunSource {
  /** True once the run's events are in the durable log (the run has ended). */
  isFinished(): Promise<boolean>;
  /** The run's events from the durable log. */
  readPersisted(): Promise<BufferedEvent[]>;
}

/** A run whose events this host is producing. */
interface LiveRun {
  /** Every event so far; `events[i].seq === i + 1`. */
  readonly events: BufferedEvent[];
  readonly waiters: Set<() => void>;
  /** Events not yet written to the StateStore buffer, in order. */
  readonly unbuffered: BufferedEvent[];
  /** The loop writing `unbuffered`, while it runs. */
  flushing: Promise<void> | null;
  /** False once a buffer write failed: later writes would leave a gap, so they stop. */
  buffering: boolean;
}

export interface RunEventLogOptions {
  logger: Logger;
  /** How often a follower of a run on another host polls the StateStore buffer. */
  pollMs?: number;
  /** How often such a follower checks whether the run has ended, when the buffer is quiet. */
  finishedCheckMs?: number;
  clock?: Clock;
  /** How a buffer write waits for a StateStore that went away; without it the first failure stops buffering. */
  retry?: StoreRetry;
}

/**
 * The events of runs. Each is numbered (`seq` from 1, no gaps). A run produced on this host is
 * held in memory while it lives, so followers here get every event at once and a StateStore
 * outage loses nothing; each event is also written, in order, to the StateStore buffer (Redis
 * Streams on Redis) so a client on any host can replay and follow it. After the run its events
 * go to the object store (the caller persists them through `end`).
 */
export class RunEventLog {
  private readonly live = new Map<string, LiveRun>();
  private readonly pollMs: number;
  private readonly finishedCheckMs: number;
  private readonly clock: Clock;

  constructor(
    private readonly state: StateStore,
    private readonly options: RunEventLogOptions,
  ) {
    this.pollMs = options.pollMs ?? 250;
    this.finishedCheckMs = options.finishedCheckMs ?? 2_000;
    this.clock = options.clock ?? systemClock;
  }

  /** Starts a run's log on this host. */
  open(runId: string): void {
    if (!this.live.has(runId))
      this.live.set(runId, {
        events: [],
        waiters: new Set(),
        unbuffered: [],
        flushing: null,
        buffering: true,
      });
  }

  /**
   * Carries on the log of a run another host produced: `recorded` are its events so far (from
   * the StateStore buffer, seq 1..n with no gap), already buffered; the next event is n + 1.
   */
  reopen(runId: string, recorded: readonly BufferedEvent[]): void {
    recorded.forEach((e, i) => {
      if (e.seq !== i + 1) throw new Error(`run ${runId}: recorded event ${e.seq} at ${i + 1}`);
    });
    this.live.set(runId, {
      events: [...recorded],
      waiters: new Set(),
      unbuffered: [],
      flushing: null,
      buffering: true,
    });
  }

  /**
   * Lets go of a live run without ending it (this host stops; another carries the run on):
   * waits until its events are in the StateStore buffer, then forgets it. Answers false when
   * some could not be buffered.
   */
  async detach(runId: string): Promise<boolean> {
    const run = this.live.get(runId);
    if (!run) return true;
    while (run.flushing) await run.flushing;
    this.live.delete(runId);
    for (const wake of run.waiters) wake();
    return run.buffering;
  }

  /** Resolves once the events of a live run so far are in the StateStore buffer (or cannot be). */
  async flushed(runId: string): Promise<void> {
    const run = this.live.get(runId);
    while (run?.flushing) await run.flushing;
  }

  /** True while this host produces `runId`. */
  isLive(runId: string): boolean {
    return this.live.has(runId);
  }

  /** Records the next (non-terminal) event of a live run and wakes its followers. */
  append(
    runId: string,
    event: Exclude<RunEventName, TerminalRunEventName>,
    data: unknown,
  ): BufferedEvent {
    const run = this.mustBeLive(runId);
    const buffered = runEvent(run.events.length + 1, event, data);
    this.publish(runId, run, buffered);
    return buffered;
  }

  /**
   * Ends a live run with its terminal event. `beforePublish` receives every event including the
   * terminal one and runs before any follower sees it (persist the log, record the outcome,
   * release the lease), so a client that reads the terminal event finds the run wholly over.
   * The terminal event is published even when `beforePublish` fails, so followers always end.
   */
  async end(
    runId: string,
    event: TerminalRunEventName,
    data: unknown,
    beforePublish: (events: readonly BufferedEvent[]) => Promise<void>,
  ): Promise<void> {
    const run = this.mustBeLive(runId);
    const terminal = runEvent(run.events.length + 1, event, data);
    try {
      await beforePublish([...run.events, terminal]);
    } finally {
      this.publish(runId, run, terminal);
      await run.flushing;
      this.live.delete(runId);
    }
  }

  /** Events after `afterSeq` known now: from memory for a live run, else the StateStore buffer. */
  async read(runId: string, afterSeq: number): Promise<BufferedEvent[]> {
    const run = this.live.get(runId);
    if (run) return run.events.slice(Math.max(0, afterSeq));
    return this.state.readRunEvents(runId, afterSeq);
  }

  /** Drops the StateStore buffer of a finished run after `ttlMs`. */
  async expire(runId: string, ttlMs: number): Promise<void> {
    await this.state.expireRunEvents(runId, ttlMs);
  }

  /**
   * Follows a run from `afterSeq`: what was missed, then live events, each once and in order,
   * in batches of whatever is available (so a fast run is written to a client in few writes),
   * until the terminal event or until `signal` aborts. A run live on this host is read from
   * memory; any other run from the StateStore buffer, and from `finished` once the buffer is
   * quiet and the run has ended (the buffer expired, or a write to it failed).
   */
  follow(
    runId: string,
    afterSeq: number,
    signal: AbortSignal,
    finished: FinishedRunSource,
  ): AsyncGenerator<BufferedEvent[]> {
    const run = this.live.get(runId);
    return run
      ? this.followLive(run, afterSeq, signal)
      : this.followStored(runId, afterSeq, signal, finished);
  }

  private async *followLive(
    run: LiveRun,
    afterSeq: number,
    signal: AbortSignal,
  ): AsyncGenerator<BufferedEvent[]> {
    let next = Math.max(0, afterSeq);
    for (;;) {
      if (next < run.events.length) {
        const batch = run.events.slice(next);
        next = run.events.length;
        const end = batch.findIndex(isTerminal);
        if (end >= 0) {
          yield batch.slice(0, end + 1);
          return;
        }
        yield batch;
        continue;
      }
      if (signal.aborted) return;
      await waitFor(this.clock, run.waiters, signal, undefined);
    }
  }

  private async *followStored(
    runId: string,
    afterSeq: number,
    signal: AbortSignal,
    finished: FinishedRunSource,
  ): AsyncGenerator<BufferedEvent[]> {
    let last = Math.max(0, afterSeq);
    let lastFinishedCheck = 0;
    while (!signal.aborted) {
      let read: BufferedEvent[] = [];
      try {
        read = await this.state.readRunEvents(runId, last);
      } catch (err) {
        this.options.logger.warn(
          { runId, err },
          'cannot read the run buffer; falling back to the durable log',
        );
      }
      const batch: BufferedEvent[] = [];
      for (const e of read) {
        if (e.seq !== last + 1) break;
        batch.push(e);
        last = e.seq;
        if (isTerminal(e)) break;
      }
      if (batch.length > 0) {
        yield batch;
        if (isTerminal(batch[batch.length - 1] as BufferedEvent)) return;
        continue;
      }
      if (this.clock.now() - lastFinishedCheck >= this.finishedCheckMs) {
        lastFinishedCheck = this.clock.now();
        if (await finished.isFinished()) {
          const rest = (await finished.readPersisted()).filter((e) => e.seq > last);
          if (rest.length > 0) yield rest;
          return;
        }
      }
      await waitFor(this.clock, new Set(), signal, this.pollMs);
    }
  }

  private publish(runId: string, run: LiveRun, event: BufferedEvent): void {
    run.events.push(event);
    for (const wake of run.waiters) wake();
    if (!run.buffering) return;
    if (run.unbuffered.length >= MAX_UNBUFFERED_EVENTS) {
      this.stopBuffering(runId, run, event.seq, 'too many events wait for the state store');
      return;
    }
    run.unbuffered.push(event);
    run.flushing ??= this.flush(runId, run);
  }

  /**
   * Writes the run's unbuffered events to the StateStore, in order, until none is left; a write
   * the StateStore is unavailable for is retried with backoff (`retry`). It clears `flushing`
   * in the same step that finds the queue empty, so a later event always starts a new loop.
   */
  private async flush(runId: string, run: LiveRun): Promise<void> {
    try {
      for (let event = run.unbuffered.shift(); event; event = run.unbuffered.shift()) {
        const e = event;
        const write = (): Promise<void> => this.appendOnce(runId, run, e);
        try {
          if (this.options.retry)
            await untilStored(this.options.retry, 'stateStore', 'run event', write);
          else await write();
        } catch (err) {
          this.stopBuffering(runId, run, e.seq, 'cannot buffer run events in the state store', err);
          return;
        }
      }
    } finally {
      run.flushing = null;
    }
  }

  /**
   * Appends one event. An event the buffer already holds (a write that timed out yet landed)
   * counts as appended. A buffer behind the run lost events it had acknowledged (a Redis
   * failover promoted a replica that had not received them yet): they are written again from
   * memory, in order, then this one.
   */
  private async appendOnce(runId: string, run: LiveRun, event: BufferedEvent): Promise<void> {
    let repairs = 0;
    for (let seq = event.seq; seq <= event.seq;) {
      const next = seq === event.seq ? event : run.events[seq - 1];
      if (next?.seq !== seq) throw new Error(`run ${runId}: event ${seq} is not in memory`);
      const lastSeq = await this.tryAppend(runId, next);
      if (lastSeq === null) seq += 1;
      else if (lastSeq >= seq) seq = lastSeq + 1;
      else {
        repairs += 1;
        if (repairs > MAX_BUFFER_REPAIRS) {
          throw new WorkcellError(
            'conflict',
            `run ${runId}: the buffer keeps falling behind (last ${lastSeq})`,
            { runId, seq, lastSeq },
          );
        }
        this.options.logger.warn(
          { runId, seq: event.seq, lastSeq },
          'the run buffer lost events it had acknowledged; writing them again',
        );
        seq = lastSeq + 1;
      }
    }
  }

  /** Appends one event: null when appended, else the buffer's last seq (a conflict). */
  private async tryAppend(runId: string, event: BufferedEvent): Promise<number | null> {
    try {
      await this.state.appendRunEvent(runId, event);
      return null;
    } catch (err) {
      const last = err instanceof WorkcellError ? err.details?.lastSeq : undefined;
      if (err instanceof WorkcellError && err.code === 'conflict' && typeof last === 'number')
        return last;
      throw err;
    }
  }

  private stopBuffering(
    runId: string,
    run: LiveRun,
    seq: number,
    why: string,
    err?: unknown,
  ): void {
    run.buffering = false;
    run.unbuffered.length = 0;
    this.options.logger.error(
      { runId, seq, err },
      `${why}; followers on other hosts wait for the durable log`,
    );
  }

  private mustBeLive(runId: string): LiveRun {
    const run = this.live.get(runId);
    if (!run) throw new Error(`run ${runId} is not live on this host`);
    return run;
  }
}

/** Waits until a waker in `waiters` is called, `signal` aborts, or `timeoutMs` passes. */
function waitFor(
  clock: Clock,
  waiters: Set<() => void>,
  signal: AbortSignal,
  timeoutMs: number | undefined,
): Promise<void> {
  return new Promise<void>((resolve) => {
    let timer: Timer | undefined;
    const done = (): void => {
      timer?.cancel();
      waiters.delete(done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    waiters.add(done);
    signal.addEventListener('abort', done, { once: true });
    if (timeoutMs !== undefined) timer = clock.after(timeoutMs, done);
  });
}
