import type { AgentEvent } from '@workcell/protocol';

/** One event of a run as the agent numbered it (`seq` from 1, no gaps). */
export interface JournalEntry {
  seq: number;
  event: AgentEvent;
  /** The NDJSON line sent for it, `{"seq":N,...event}`. */
  line: string;
}

/** How much of a run's events the agent keeps for a host that connects again. */
export interface JournalLimits {
  maxEvents: number;
  maxBytes: number;
}

export const DEFAULT_JOURNAL_LIMITS: JournalLimits = {
  maxEvents: 20_000,
  maxBytes: 32 * 1024 * 1024,
};

/** What `follow` answers when the events after `after` are no longer all kept. */
export class JournalGap extends Error {
  constructor(readonly firstKept: number) {
    super(`events before ${firstKept} are no longer kept`);
  }
}

/**
 * The events of one run, numbered and kept (bounded: the oldest go first) so that a host whose
 * connection dropped reads on from the last event it recorded. The run goes on whether or not
 * anyone follows it; followers wake on every new event and on the end.
 */
export class RunJournal {
  private readonly entries: JournalEntry[] = [];
  private bytes = 0;
  private next = 1;
  private ended = false;
  private readonly waiters = new Set<() => void>();

  constructor(
    readonly runId: string,
    private readonly limits: JournalLimits = DEFAULT_JOURNAL_LIMITS,
  ) {}

  /** True once the run's last event (`run.completed` / `run.failed`) is in. */
  get isEnded(): boolean {
    return this.ended;
  }

  /** The seq of the oldest event still kept (the next one when none is). */
  get firstKept(): number {
    return this.entries[0]?.seq ?? this.next;
  }

  push(event: AgentEvent): void {
    const seq = this.next;
    this.next += 1;
    const line = `${JSON.stringify({ seq, ...event })}\n`;
    this.entries.push({ seq, event, line });
    this.bytes += line.length;
    while (
      this.entries.length > 1 &&
      (this.entries.length > this.limits.maxEvents || this.bytes > this.limits.maxBytes)
    ) {
      const dropped = this.entries.shift() as JournalEntry;
      this.bytes -= dropped.line.length;
    }
    this.wake();
  }

  /** Marks the run over: followers end once they have read everything. */
  end(): void {
    this.ended = true;
    this.wake();
  }

  /**
   * The events after `after`, then each new one as it comes, until the run has ended and all
   * are read, or `signal` aborts. Throws `JournalGap` when some of them are no longer kept.
   */
  async *follow(after: number, signal: AbortSignal): AsyncGenerator<JournalEntry> {
    let last = Math.max(0, after);
    if (last + 1 < this.firstKept) throw new JournalGap(this.firstKept);
    for (;;) {
      if (last + 1 < this.firstKept) throw new JournalGap(this.firstKept);
      const pending = this.entries.filter((e) => e.seq > last);
      for (const entry of pending) {
        last = entry.seq;
        yield entry;
      }
      if (pending.length > 0) continue;
      if (this.ended || signal.aborted) return;
      await new Promise<void>((resolve) => {
        const done = (): void => {
          this.waiters.delete(done);
          signal.removeEventListener('abort', done);
          resolve();
        };
        this.waiters.add(done);
        signal.addEventListener('abort', done, { once: true });
      });
    }
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }
}
