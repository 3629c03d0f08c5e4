import { WorkcellError } from '@workcell/protocol';
import type { Logger } from 'pino';
import type { FinishedRunSource, RunEventLog } from '../execute/run-events.js';
import type { StateStore } from '../state/state-store.js';
import type { SessionEvent } from './translate-events.js';

/** How long a session's feed outlives its last event. */
export const SESSION_FEED_TTL_MS = 3_600_000;

/** Attempts at numbering one event before the append gives up (each conflict is another host). */
const MAX_APPEND_ATTEMPTS = 50;

/** The name of a session's buffer beside the runs' buffers (run ids never start so). */
function feedName(sessionId: string): string {
  return `session:${sessionId}`;
}

/**
 * A feed entry's event; null for an entry that is not one (damaged in the store): a stream skips
 * it, and a host carrying a turn on publishes its event again.
 */
function feedEvent(data: string): SessionEvent | null {
  try {
    const event = JSON.parse(data) as Partial<SessionEvent> | null;
    return event && typeof event === 'object' && typeof event.id === 'string'
      ? (event as SessionEvent)
      : null;
  } catch {
    return null;
  }
}

function lastSeqOf(err: unknown): number | null {
  if (!(err instanceof WorkcellError) || err.code !== 'conflict') return null;
  const last = err.details?.lastSeq;
  return typeof last === 'number' ? last : null;
}

/**
 * A session's events as every host sees them. Each event a host publishes for a session is
 * appended to the session's buffer in the StateStore (the buffer runs use, Redis Streams on
 * Redis), numbered by the buffer's compare-and-set so several hosts append to one feed, and
 * followed from any host with `RunEventLog.follow`, exactly as a run's events are followed on a
 * host that does not run it. One host's events for a session are appended in the order it
 * published them.
 */
export class SessionFeed {
  /** Per session, the appends of this host not yet written, chained in order. */
  private readonly chains = new Map<string, Promise<void>>();

  constructor(
    private readonly deps: {
      state: Pick<
        StateStore,
        'appendRunEvent' | 'lastRunEventSeq' | 'expireRunEvents' | 'readRunEvents'
      >;
      events: Pick<RunEventLog, 'follow'>;
      logger: Logger;
      ttlMs?: number;
    },
  ) {}

  private get ttlMs(): number {
    return this.deps.ttlMs ?? SESSION_FEED_TTL_MS;
  }

  /** Appends `event` to the session's feed after this host's earlier appends (never throws). */
  append(sessionId: string, event: SessionEvent): Promise<void> {
    const previous = this.chains.get(sessionId) ?? Promise.resolve();
    const next = previous.then(() =>
      this.write(sessionId, event).catch((err: unknown) =>
        this.deps.logger.error(
          { err, session: sessionId, event: event.id },
          'cannot append a session event to its feed; streams on other hosts miss it',
        ),
      ),
    );
    this.chains.set(sessionId, next);
    void next.finally(() => {
      if (this.chains.get(sessionId) === next) this.chains.delete(sessionId);
    });
    return next;
  }

  private async write(sessionId: string, event: SessionEvent): Promise<void> {
    const { state } = this.deps;
    const name = feedName(sessionId);
    const data = JSON.stringify(event);
    let seq = (await state.lastRunEventSeq(name)) + 1;
    for (let attempt = 0; attempt < MAX_APPEND_ATTEMPTS; attempt += 1) {
      try {
        await state.appendRunEvent(name, { seq, event: 'message', data });
        await state.expireRunEvents(name, this.ttlMs);
        return;
      } catch (err) {
        const last = lastSeqOf(err);
        if (last === null) throw err;
        seq = last + 1;
      }
    }
    throw new Error(`no free seq in the feed of session ${sessionId}`);
  }

  /**
   * The seq of the feed's latest event, once this host's appends so far have landed: a stream
   * that starts now follows from it, and sees nothing this host published before.
   */
  async tail(sessionId: string): Promise<number> {
    await this.chains.get(sessionId);
    return this.deps.state.lastRunEventSeq(feedName(sessionId));
  }

  /**
   * The ids of the events the feed holds, once this host's appends so far have landed: what a
   * host that carries on another host's turn need not publish again.
   */
  async publishedIds(sessionId: string): Promise<Set<string>> {
    await this.chains.get(sessionId);
    const events = await this.deps.state.readRunEvents(feedName(sessionId), 0);
    const ids = new Set<string>();
    for (const e of events) {
      const event = feedEvent(e.data);
      if (event) ids.add(event.id);
    }
    return ids;
  }

  /**
   * The session's events after `afterSeq`, as other hosts append them, until `signal` aborts or
   * `gone` says the session no longer exists. While followed, the feed's expiry is pushed back;
   * a feed that expired anyway (the state store lost it) and began again is followed from its
   * new start.
   */
  async *follow(
    sessionId: string,
    afterSeq: number,
    signal: AbortSignal,
    gone: () => Promise<boolean>,
  ): AsyncGenerator<SessionEvent[]> {
    const name = feedName(sessionId);
    let last = afterSeq;
    while (!signal.aborted) {
      let ended = false;
      const finished: FinishedRunSource = {
        isFinished: async () => {
          ended = (await gone()) || (await this.deps.state.lastRunEventSeq(name)) < last;
          // A followed feed does not expire, so its numbering never starts over under a follower.
          if (!ended) await this.deps.state.expireRunEvents(name, this.ttlMs);
          return ended;
        },
        readPersisted: () => Promise.resolve([]),
      };
      for await (const batch of this.deps.events.follow(name, last, signal, finished)) {
        const events: SessionEvent[] = [];
        for (const e of batch) {
          last = e.seq;
          const event = feedEvent(e.data);
          if (event) events.push(event);
        }
        yield events;
      }
      if (!ended || (await gone())) return;
      last = 0;
    }
  }
}
