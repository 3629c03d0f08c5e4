import type { Catalog, ConversationRecord } from '../catalog/catalog.js';
import type { BufferedEvent } from '../state/state-store.js';
import type { RunEventLog } from './run-events.js';

/**
 * Where a run's events are read from: the live buffer while it runs (or while this host still
 * holds it), the durable run log once it has ended, the buffer again when that log was never
 * written. The API reads a run's history only through these.
 */
export class RunHistory {
  constructor(
    private readonly deps: {
      catalog: Pick<Catalog, 'readRunEvents' | 'getConversation' | 'getRun'>;
      events: Pick<RunEventLog, 'isLive' | 'read' | 'follow'>;
    },
  ) {}

  /** True when the run has ended and this host no longer holds it live. */
  hasEnded(conversation: ConversationRecord, runId: string): boolean {
    const run = this.deps.catalog.getRun(conversation, runId);
    return run.status !== 'running' && !this.deps.events.isLive(runId);
  }

  /** An ended run's events after `after`, from the durable log (the buffer when it has none). */
  async ended(
    conversation: ConversationRecord,
    runId: string,
    after: number,
  ): Promise<BufferedEvent[]> {
    const stored = await this.deps.catalog.readRunEvents(conversation, runId);
    // A run with no durable log is still running (or lost): the buffer is the only other source,
    // and when it cannot be read the client gets what there is (nothing) and may follow live.
    const events =
      stored.length > 0 ? stored : await this.deps.events.read(runId, 0).catch(() => []);
    return events.filter((e) => e.seq > after);
  }

  /** Every event of a run so far, from whichever store holds it now. */
  async all(conversation: ConversationRecord, runId: string): Promise<BufferedEvent[]> {
    return this.hasEnded(conversation, runId)
      ? this.ended(conversation, runId, 0)
      : this.deps.events.read(runId, 0);
  }

  /** Follows a run in progress after `after` until its terminal event, wherever it runs. */
  follow(
    conversation: ConversationRecord,
    runId: string,
    after: number,
    signal: AbortSignal,
  ): AsyncIterable<BufferedEvent[]> {
    const { catalog, events } = this.deps;
    return events.follow(runId, after, signal, {
      isFinished: async () => {
        const c = await catalog.getConversation(conversation.tenant, conversation.id);
        return c.runs.find((r) => r.id === runId)?.status !== 'running';
      },
      readPersisted: () => catalog.readRunEvents(conversation, runId),
    });
  }
}
