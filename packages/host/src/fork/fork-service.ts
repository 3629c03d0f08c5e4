import { WorkcellError } from '@workcell/protocol';
import type { Logger } from 'pino';
import type {
  Catalog,
  ConversationRecord,
  RunRecord,
  WorkspaceRecord,
} from '../catalog/catalog.js';
import type { SecretStore } from '../secrets/secret-store.js';
import { withBlobHold } from '../snapshots/blob-holds.js';
import type { SnapshotRecord } from '../snapshots/snapshot-record.js';
import type { Snapshots } from '../snapshots/snapshots.js';
import * as layout from '../storage/layout.js';
import type { ObjectStore } from '../storage/object-store.js';
import { readManifest, writeManifest } from '../sync/manifest.js';
import type { Clock } from '../time/clock.js';
import { anchorsIn, keptRuns } from './run-anchors.js';
import {
  forkTranscript,
  forkedUuids,
  readTranscript,
  writeTranscripts,
  type TranscriptEntry,
} from './transcripts.js';

export interface ForkSettings {
  store: ObjectStore;
  catalog: Catalog;
  snapshots: Pick<
    Snapshots,
    'get' | 'latest' | 'take' | 'upTo' | 'asOfRun' | 'restoreHeld' | 'write'
  >;
  secrets: Pick<SecretStore, 'copyWorkspace'>;
  /** Runs `work` holding the workspace lock; throws `workspace_busy` when another holds it. */
  withWorkspaceLock: <T>(workspaceId: string, work: () => Promise<T>) => Promise<T>;
  /** After files were restored: brings the workspace's idle container up to date. */
  filesChanged: (tenant: string, workspaceId: string) => Promise<void>;
  clock: Clock;
  logger: Logger;
}

export interface ForkedWorkspace {
  workspace: WorkspaceRecord;
  conversations: { from: string; to: string }[];
}

export interface Rewound {
  conversation: ConversationRecord;
  toRunId: string;
  rewoundRunIds: string[];
  snapshotId: string | null;
}

/** A conversation's session cut at a run: the new session, its entries and the runs' anchors. */
interface CutSession {
  sessionId: string | null;
  entries: TranscriptEntry[] | null;
  anchors: Record<string, string>;
}

/** `name (fork)`, or the name as it is when the suffix would pass the API's limit for it. */
function forkName(name: string, max: number): string {
  const named = `${name} (fork)`;
  return named.length <= max ? named : name;
}

/** A run's record in a fork: the same run, shown in `to`, counted (usage) where it ran. */
function copyOfRun(run: RunRecord, from: string, to: string): RunRecord {
  return { ...run, conversationId: to, forkedFrom: run.forkedFrom ?? from };
}

/** Workspace objects a fork copies as they are (absent ones are skipped). */
const COPIED_OBJECTS = [layout.workspaceAgentKey, layout.workspaceEgressKey] as const;

/**
 * Forks of workspaces and conversations, and rewinds of conversations. A conversation's
 * history is its SDK session transcript; a fork or a rewind makes a new session with the SDK's
 * `forkSession`, cut after the chosen run's last entry, so the model sees exactly the turns up
 * to that run. Files are manifests naming shared blobs: a fork copies a manifest, never bytes.
 */
export class ForkService {
  constructor(private readonly s: ForkSettings) {}

  /**
   * A new workspace with the source's files as of `snapshotId` (the newest snapshot when
   * absent), its agent settings, egress narrowing and secrets, and a copy of every
   * conversation continuing its history. The source may be busy: the fork reads what was last
   * stored and copies only ended runs. Nothing of the fork is found or listed until all of it
   * is stored; a failure (the source deleted meanwhile, say) removes what was stored.
   */
  async forkWorkspace(
    tenant: string,
    sourceId: string,
    input: { name?: string | undefined; snapshotId?: string | undefined },
  ): Promise<ForkedWorkspace> {
    const source = await this.s.catalog.getWorkspace(tenant, sourceId);
    const target = this.s.catalog.newWorkspaceRecord(
      tenant,
      input.name ?? forkName(source.name, 200),
    );
    const made: string[] = [];
    try {
      const done = await withBlobHold(this.s.store, this.s.clock, tenant, async () => {
        // Read under the hold: the blobs it names stay while the fork comes to name them.
        const snapshot = await this.sourceSnapshot(tenant, sourceId, input.snapshotId);
        await this.copyFiles(tenant, sourceId, target.id, snapshot);
        for (const key of COPIED_OBJECTS) {
          const from = key(tenant, sourceId);
          if (await this.s.store.head(from)) await this.s.store.copy(from, key(tenant, target.id));
        }
        await this.s.secrets.copyWorkspace(tenant, sourceId, target.id);
        const mapped = await this.copyConversations(source, target, made);
        // A source deleted while it was copied answers 404 and leaves no fork behind.
        await this.s.catalog.getWorkspace(tenant, sourceId);
        await this.s.catalog.publishWorkspace(target);
        return { conversations: mapped, snapshotId: snapshot?.id ?? null };
      });
      this.s.logger.info(
        {
          tenant,
          from: sourceId,
          to: target.id,
          snapshotId: done.snapshotId,
          conversations: made.length,
        },
        'workspace forked',
      );
      return { workspace: target, conversations: done.conversations };
    } catch (err) {
      await this.s.catalog.discardWorkspace(target, made).catch((cleanup: unknown) => {
        this.s.logger.error(
          { err: cleanup, workspaceId: target.id },
          'cannot discard a failed fork',
        );
      });
      throw err;
    }
  }

  /**
   * A new conversation in the same workspace whose history ends with `atRunId` (the newest
   * ended run when absent): its runs up to that one, and a session the model resumes with
   * exactly their turns. Takes the workspace lock to add the session to the workspace's
   * sessions (`workspace_busy` while a run holds it).
   */
  async forkConversation(
    tenant: string,
    conversationId: string,
    atRunId: string | undefined,
  ): Promise<ConversationRecord> {
    const first = await this.s.catalog.getConversation(tenant, conversationId);
    if (atRunId !== undefined) await this.runOf(first, atRunId);
    return this.s.withWorkspaceLock(first.workspaceId, async () => {
      const source = await this.s.catalog.getConversation(tenant, conversationId);
      const kept = keptRuns(source);
      const at = atRunId === undefined ? (kept.at(-1) ?? null) : await this.runOf(source, atRunId);
      const runs = at === null ? [] : kept.slice(0, kept.indexOf(at) + 1);
      const cut = await this.cut(source, runs);
      const target = this.s.catalog.newConversationRecord(
        tenant,
        source.workspaceId,
        forkName(source.title, 500),
      );
      target.sessionId = cut.sessionId;
      target.runs = runs.map((r) => copyOfRun(r, source.id, target.id));
      target.anchors = cut.anchors;
      try {
        await this.storeCut(tenant, source.workspaceId, cut);
        for (const r of runs) await this.s.catalog.copyRunEvents(source, target, r.id);
        await this.s.catalog.putConversation(target);
      } catch (err) {
        await this.s.catalog.discardConversation(target).catch(() => undefined);
        throw err;
      }
      this.s.logger.info(
        { tenant, from: source.id, to: target.id, atRunId: at?.id ?? null },
        'conversation forked',
      );
      return target;
    });
  }

  /**
   * The conversation continues from the end of `toRunId`: a new session cut after that run,
   * the later runs kept in the history and marked rewound. With `files`, the workspace's files
   * return to the snapshot as of that run, in the same hold of the workspace lock.
   */
  async rewind(
    tenant: string,
    conversationId: string,
    input: { toRunId: string; files?: boolean | undefined },
  ): Promise<Rewound> {
    const first = await this.s.catalog.getConversation(tenant, conversationId);
    await this.runOf(first, input.toRunId);
    return this.s.withWorkspaceLock(first.workspaceId, async () => {
      const source = await this.s.catalog.getConversation(tenant, conversationId);
      const to = await this.runOf(source, input.toRunId);
      const kept = keptRuns(source);
      const runs = kept.slice(0, kept.indexOf(to) + 1);
      const later = kept.slice(kept.indexOf(to) + 1).map((r) => r.id);
      const snapshot =
        input.files === true
          ? await this.s.snapshots.asOfRun(tenant, source.workspaceId, to)
          : null;
      if (input.files === true && snapshot === null)
        throw new WorkcellError('conflict', `no snapshot of the files as of run ${to.id} is kept`);
      // Everything that can fail without changing anything comes first.
      const cut = await this.cut(source, runs);
      if (snapshot !== null)
        await this.s.snapshots.restoreHeld(
          tenant,
          source.workspaceId,
          snapshot,
          this.s.filesChanged,
        );
      const snapshotId = snapshot?.id ?? null;
      await this.storeCut(tenant, source.workspaceId, cut);
      const rewoundIds = new Set(later);
      const conversation = await this.s.catalog.updateConversation(source, (c) => {
        c.sessionId = cut.sessionId;
        c.anchors = cut.anchors;
        for (const r of c.runs) if (rewoundIds.has(r.id)) r.rewound = true;
      });
      this.s.logger.info(
        { tenant, conversationId, toRunId: to.id, rewound: later.length, snapshotId },
        'conversation rewound',
      );
      return { conversation, toRunId: to.id, rewoundRunIds: later, snapshotId };
    });
  }

  /**
   * The run `runId` of the conversation, ended and not rewound. `not_found` for an id no
   * conversation of the workspace has; `bad_request` for another conversation's run.
   */
  private async runOf(conversation: ConversationRecord, runId: string): Promise<RunRecord> {
    const run = conversation.runs.find((r) => r.id === runId);
    if (run === undefined) {
      const others = await this.s.catalog.listConversations(
        conversation.tenant,
        conversation.workspaceId,
      );
      if (others.some((c) => c.id !== conversation.id && c.runs.some((r) => r.id === runId)))
        throw new WorkcellError('bad_request', `run ${runId} belongs to another conversation`);
      throw new WorkcellError('not_found', 'run not found');
    }
    if (run.status === 'running') throw new WorkcellError('conflict', `run ${runId} has not ended`);
    if (run.rewound === true)
      throw new WorkcellError(
        'conflict',
        `run ${runId} was rewound: it is no longer in the history`,
      );
    return run;
  }

  /**
   * The snapshot a workspace fork copies: the one asked for, else the newest; a workspace
   * without one that never stored a file forks empty, one with files gets a snapshot taken.
   */
  private async sourceSnapshot(
    tenant: string,
    workspaceId: string,
    snapshotId: string | undefined,
  ): Promise<SnapshotRecord | null> {
    if (snapshotId !== undefined) return this.s.snapshots.get(tenant, workspaceId, snapshotId);
    const latest = await this.s.snapshots.latest(tenant, workspaceId);
    if (latest !== null) return latest;
    const live = await readManifest(this.s.store, layout.workspaceManifestKey(tenant, workspaceId));
    if (Object.keys(live.files).length === 0 && Object.keys(live.links ?? {}).length === 0)
      return null;
    const taken = await this.s.snapshots.take(tenant, workspaceId);
    return this.s.snapshots.get(tenant, workspaceId, taken.id);
  }

  /** The fork's live manifest is the snapshot's; the snapshots up to it come along. */
  private async copyFiles(
    tenant: string,
    sourceId: string,
    targetId: string,
    snapshot: SnapshotRecord | null,
  ): Promise<void> {
    if (snapshot === null) return;
    await writeManifest(
      this.s.store,
      layout.workspaceManifestKey(tenant, targetId),
      snapshot.manifest,
    );
    for (const record of await this.s.snapshots.upTo(tenant, sourceId, snapshot))
      await this.s.snapshots.write(tenant, { ...record, workspaceId: targetId });
  }

  /** Copies every conversation of `source` into `target` (not yet published). */
  private async copyConversations(
    source: WorkspaceRecord,
    target: WorkspaceRecord,
    made: string[],
  ): Promise<{ from: string; to: string }[]> {
    const tenant = source.tenant;
    const mapped: { from: string; to: string }[] = [];
    const transcripts = new Map<string, TranscriptEntry[]>();
    for (const from of await this.s.catalog.listConversations(tenant, source.id)) {
      const runs = from.runs.filter((r) => r.status !== 'running');
      const cut = await this.cut(from, keptRuns(from)).catch((err: unknown) => {
        if (!(err instanceof WorkcellError) || err.code !== 'session_lost') throw err;
        // The copy fails at its next message exactly as the source does (`session_lost`).
        this.s.logger.warn({ conversationId: from.id }, err.message);
        return { sessionId: from.sessionId, entries: null, anchors: {} };
      });
      const fresh = this.s.catalog.newConversationRecord(tenant, target.id, from.title);
      const to: ConversationRecord = {
        ...fresh,
        createdAt: from.createdAt,
        sessionId: cut.sessionId,
        runs: runs.map((r) => copyOfRun(r, from.id, fresh.id)),
        anchors: cut.anchors,
      };
      if (cut.sessionId !== null && cut.entries !== null)
        transcripts.set(cut.sessionId, cut.entries);
      made.push(to.id);
      for (const r of runs) await this.s.catalog.copyRunEvents(from, to, r.id);
      await this.s.catalog.putConversation(to);
      mapped.push({ from: from.id, to: to.id });
    }
    await writeTranscripts(this.s.store, tenant, target.id, transcripts, this.s.clock.now());
    return mapped;
  }

  /**
   * A new session of the conversation's transcript cut after the last of `runs` that left an
   * entry in it; no session when none did (the fork starts a new one at its first message).
   */
  private async cut(
    conversation: ConversationRecord,
    runs: readonly RunRecord[],
  ): Promise<CutSession> {
    const none: CutSession = { sessionId: null, entries: null, anchors: {} };
    if (conversation.sessionId === null || runs.length === 0) return none;
    const entries = await readTranscript(
      this.s.store,
      conversation.tenant,
      conversation.workspaceId,
      conversation.sessionId,
    );
    if (entries === null) {
      throw new WorkcellError(
        'session_lost',
        `conversation ${conversation.id} has no stored transcript of session ${conversation.sessionId}`,
      );
    }
    const anchors = await anchorsIn(conversation, runs, entries, (c, id) =>
      this.s.catalog.readRunEvents(c, id),
    );
    const last = [...runs].reverse().find((r) => anchors.has(r.id));
    if (last === undefined) return none;
    const forked = await forkTranscript(
      conversation.sessionId,
      entries,
      anchors.get(last.id) ?? null,
    );
    const moved = forkedUuids(forked.entries);
    const remapped: Record<string, string> = {};
    for (const [runId, uuid] of anchors) {
      const now = moved.get(uuid);
      if (now !== undefined) remapped[runId] = now;
    }
    return { sessionId: forked.sessionId, entries: forked.entries, anchors: remapped };
  }

  private async storeCut(tenant: string, workspaceId: string, cut: CutSession): Promise<void> {
    if (cut.sessionId === null || cut.entries === null) return;
    await writeTranscripts(
      this.s.store,
      tenant,
      workspaceId,
      new Map([[cut.sessionId, cut.entries]]),
      this.s.clock.now(),
    );
  }
}
