import type { ConversationRecord, RunRecord } from '../catalog/catalog.js';
import type { BufferedEvent } from '../state/state-store.js';
import type { TranscriptEntry } from './transcripts.js';

/*
 * A run's anchor is the uuid of its last entry in the conversation's transcript: a fork "at
 * the run" keeps the transcript up to and including it. The run's log names the uuids of the
 * SDK messages it streamed (assistant turns and tool results); a run copied into another
 * session by a fork has its anchor in that session recorded on the conversation.
 */

/** The uuids of the run's main-chain messages, last first. */
export function anchorCandidates(events: readonly BufferedEvent[]): string[] {
  const uuids: string[] = [];
  for (const e of events) {
    if (e.event !== 'message') continue;
    let message: unknown;
    try {
      message = JSON.parse(e.data);
    } catch {
      continue;
    }
    if (typeof message !== 'object' || message === null) continue;
    const m = message as { type?: unknown; uuid?: unknown; parent_tool_use_id?: unknown };
    if (m.type !== 'assistant' && m.type !== 'user') continue;
    // A subagent's messages live in its own transcript, not the conversation's chain.
    if (m.parent_tool_use_id !== null && m.parent_tool_use_id !== undefined) continue;
    if (typeof m.uuid === 'string') uuids.push(m.uuid);
  }
  return uuids.reverse();
}

/** Reads a finished run's events (the catalog's run log). */
export type RunEventsReader = (
  conversation: ConversationRecord,
  runId: string,
) => Promise<BufferedEvent[]>;

/**
 * The anchors of `runs` in the conversation's current transcript (`entries`): the recorded one
 * when a fork copied the run, else the last of the run's own messages the transcript holds.
 * A run with nothing in the transcript (it failed before the model answered) has none.
 */
export async function anchorsIn(
  conversation: ConversationRecord,
  runs: readonly RunRecord[],
  entries: readonly TranscriptEntry[],
  readEvents: RunEventsReader,
): Promise<Map<string, string>> {
  const present = new Set(entries.map((e) => e.uuid).filter((u) => typeof u === 'string'));
  const anchors = new Map<string, string>();
  for (const run of runs) {
    const recorded = conversation.anchors?.[run.id];
    if (recorded !== undefined && present.has(recorded)) {
      anchors.set(run.id, recorded);
      continue;
    }
    // A run of an earlier session is in this one only through a fork, which recorded it.
    const ranIn = run.summary?.sessionId ?? null;
    if (ranIn !== null && ranIn !== conversation.sessionId) continue;
    const found = anchorCandidates(await readEvents(conversation, run.id)).find((u) =>
      present.has(u),
    );
    if (found !== undefined) anchors.set(run.id, found);
  }
  return anchors;
}

/** The runs the model sees: ended, not rewound, in order. */
export function keptRuns(conversation: ConversationRecord): RunRecord[] {
  return conversation.runs.filter((r) => r.status !== 'running' && r.rewound !== true);
}
