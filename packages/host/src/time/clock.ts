/** A pending timer of a `Clock`; `cancel` is idempotent. */
export interface Timer {
  cancel(): void;
}

export interface TimerOptions {
  /** The timer does not keep the process alive (a periodic background pass). */
  background?: boolean;
}

/**
 * The host's one source of time. TTLs, leases, timeouts, back-offs and GC ages read `now()`
 * and wait through `after`/`every`, so tests drive them with a `ManualClock` instead of
 * sleeping.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Calls `fn` once after `ms`. */
  after(ms: number, fn: () => void, options?: TimerOptions): Timer;
  /** Calls `fn` every `ms` until cancelled. */
  every(ms: number, fn: () => void, options?: TimerOptions): Timer;
  /** Resolves after `ms`. */
  sleep(ms: number): Promise<void>;
}

/** Wall-clock time and Node's timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  after(ms, fn, options) {
    const t = setTimeout(fn, ms);
    if (options?.background) t.unref();
    return { cancel: () => clearTimeout(t) };
  },
  every(ms, fn, options) {
    const t = setInterval(fn, ms);
    if (options?.background) t.unref();
    return { cancel: () => clearInterval(t) };
  },
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/** A clock whose `now` a test sets, while its timers run in real time. */
export abstract class SetTimeClock implements Clock {
  abstract now(): number;
  after(ms: number, fn: () => void, options?: TimerOptions): Timer {
    return systemClock.after(ms, fn, options);
  }
  every(ms: number, fn: () => void, options?: TimerOptions): Timer {
    return systemClock.every(ms, fn, options);
  }
  sleep(ms: number): Promise<void> {
    return systemClock.sleep(ms);
  }
}

interface Pending {
  at: number;
  fn: () => void;
  /** Repeat period, for `every`. */
  period: number | null;
  cancelled: boolean;
}

/**
 * A clock that moves only when told: `advance(ms)` fires every timer that falls due, in order,
 * with `now()` at each timer's due time. `advanceAsync` lets the promises each timer starts
 * settle before the next one fires.
 */
export class ManualClock implements Clock {
  private readonly pending: Pending[] = [];

  constructor(private t: number = Date.now()) {}

  now(): number {
    return this.t;
  }

  after(ms: number, fn: () => void): Timer {
    return this.add(ms, fn, null);
  }

  every(ms: number, fn: () => void): Timer {
    return this.add(ms, fn, Math.max(1, ms));
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.after(ms, resolve));
  }

  /** Timers waiting to fire. */
  get timers(): number {
    return this.pending.filter((p) => !p.cancelled).length;
  }

  /** Moves time forward by `ms`, firing what falls due. */
  advance(ms: number): void {
    const until = this.t + ms;
    for (let next = this.due(until); next; next = this.due(until)) this.fire(next);
    this.t = until;
  }

  /** `advance`, letting pending promise callbacks run after every timer that fires. */
  async advanceAsync(ms: number): Promise<void> {
    const until = this.t + ms;
    await flush();
    for (let next = this.due(until); next; next = this.due(until)) {
      this.fire(next);
      await flush();
    }
    this.t = until;
  }

  private add(ms: number, fn: () => void, period: number | null): Timer {
    const entry: Pending = { at: this.t + Math.max(0, ms), fn, period, cancelled: false };
    this.pending.push(entry);
    return {
      cancel: () => {
        entry.cancelled = true;
      },
    };
  }

  private due(until: number): Pending | null {
    let first: Pending | null = null;
    for (let i = this.pending.length - 1; i >= 0; i -= 1) {
      const p = this.pending[i] as Pending;
      if (p.cancelled) this.pending.splice(i, 1);
      else if (p.at <= until && (!first || p.at <= first.at)) first = p;
    }
    return first;
  }

  private fire(p: Pending): void {
    this.t = Math.max(this.t, p.at);
    if (p.period === null) p.cancelled = true;
    else p.at += p.period;
    p.fn();
  }
}

/** Lets queued promise callbacks and I/O callbacks run. */
function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** True when `promise` settles within `ms` of `clock`'s time. */
export async function settlesWithin(
  clock: Clock,
  promise: Promise<unknown>,
  ms: number,
): Promise<boolean> {
  let timer: Timer | undefined;
  const timedOut = new Promise<false>((resolve) => {
    timer = clock.after(ms, () => resolve(false));
  });
  try {
    return await Promise.race([promise.then(() => true), timedOut]);
  } finally {
    timer?.cancel();
  }
}
