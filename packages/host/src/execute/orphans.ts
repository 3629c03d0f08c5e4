import type { ErrorBody } from '@workcell/protocol';
import type { Logger } from 'pino';
import type { Catalog, ConversationRecord, RunRecord } from '../catalog/catalog.js';
import { runEvent } from '../catalog/run-log.js';
import type { BufferedEvent } from '../state/state-store.js';
import type { Clock } from '../time/clock.js';
import type { RunEventLog } from './run-events.js';

export interface OrphanDeps {
  catalog: Catalog;
  events: Pick<RunEventLog, 'read'>;
  clock: Clock;
  logger: Logger;
  /** Where runs in progress are recorded (the StateStore); a closed orphan is removed from it. */
  attachments?: { deleteRunAttachment(runId: string): Promise<void> };
}

/** The error an orphaned run ends with. */
export const ORPHAN_ERROR: ErrorBody = {
  code: 'host_lost',
  message: 'the host running this run stopped before it ended, and no host carried it on',
};

/**
 * Closes the runs of a conversation still marked running while the caller holds the
 * workspace's run lease: none of them can be in progress, their host stopped before recording
 * the end. Each gets its durable log (what the StateStore buffer still has, then `run.failed`)
 * and the answer holds the record changes that close it, for the caller to apply in its own
 * conversation update.
 */
export async function closeOrphanedRuns(
  deps: OrphanDeps,
  conversation: ConversationRecord,
): Promise<Map<string, Partial<RunRecord>>> {
  const closed = new Map<string, Partial<RunRecord>>();
  for (const run of conversation.runs) {
    if (run.status !== 'running') continue;
    const buffered = await bufferedEvents(deps, run.id);
    const all = [...buffered, runEvent(buffered.length + 1, 'run.failed', ORPHAN_ERROR)];
    await deps.catalog.writeRunEvents(conversation, run.id, all);
    await deps.attachments?.deleteRunAttachment(run.id).catch((err: unknown) => {
      deps.logger.warn({ runId: run.id, err }, 'the closed run is still recorded in progress');
    });
    closed.set(run.id, {
      status: 'failed',
      endedAt: new Date(deps.clock.now()).toISOString(),
      error: ORPHAN_ERROR,
      eventCount: all.length,
    });
    deps.logger.warn(
      { runId: run.id, conversationId: conversation.id },
      'closed a run whose host stopped before it ended',
    );
  }
  return closed;
}

/** What the buffer still holds of a run; nothing when it cannot be read (the log then holds only the failure). */
async function bufferedEvents(deps: OrphanDeps, runId: string): Promise<BufferedEvent[]> {
  try {
    return await deps.events.read(runId, 0);
  } catch (err) {
    deps.logger.warn(
      { runId, err },
      'cannot read an orphaned run buffer; its log keeps only the failure',
    );
    return [];
  }
}
