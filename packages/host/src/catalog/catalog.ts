import { randomBytes } from 'node:crypto';
import { WorkcellError, type ErrorBody, type RunSummary } from '@workcell/protocol';
import type { BufferedEvent } from '../state/state-store.js';
import type { ObjectStore } from '../storage/object-store.js';
import * as layout from '../storage/layout.js';
import { systemClock, type Clock } from '../time/clock.js';
import { compareSortKeys, type Page, type PageRequest } from './page.js';
import { decodeRunLog, encodeRunLog, RUN_LOG_CONTENT_TYPE } from './run-log.js';

export interface WorkspaceRecord {
  id: string;
  tenant: string;
  name: string;
  createdAt: string;
}

export type RunStatus = 'running' | 'completed' | 'failed';

export interface RunRecord {
  id: string;
  conversationId: string;
  status: RunStatus;
  startedAt: string;
  endedAt: string | null;
  interrupted: boolean;
  error: ErrorBody | null;
  summary: RunSummary | null;
  eventCount: number;
  /** Set once the conversation was rewound to an earlier run; absent means false. */
  rewound?: boolean;
  /**
   * The conversation whose run this record copies (a fork): the run happened there, and its
   * usage is counted there only.
   */
  forkedFrom?: string;
}

/** What the API shows of a run. */
export type RunView = Omit<RunRecord, 'rewound' | 'forkedFrom'> & { rewound: boolean };

export function runView(run: RunRecord): RunView {
  const { forkedFrom: _copied, ...rest } = run;
  return { ...rest, rewound: run.rewound === true };
}

export interface ConversationRecord {
  id: string;
  workspaceId: string;
  tenant: string;
  title: string;
  createdAt: string;
  /** The Claude Agent SDK session this conversation resumes. */
  sessionId: string | null;
  runs: RunRecord[];
  /**
   * Run id -> the uuid of the run's last transcript entry in `sessionId`, for runs whose entries
   * were copied into this session by a fork (their run logs name the source session's uuids).
   */
  anchors?: Record<string, string>;
}

/** A random id with a type prefix: `ws_`, `conv_`, `run_`. */
export function newId(prefix: 'ws' | 'conv' | 'run'): string {
  return `${prefix}_${randomBytes(12).toString('base64url').replace(/[-_]/g, 'x')}`;
}

const ID_PATTERN = /^(ws|conv|run)_[A-Za-z0-9]{16}$/;

function listKey(record: WorkspaceRecord): string {
  return layout.workspaceListKey(record.tenant, Date.parse(record.createdAt), record.id);
}

/** What a conversation list shows of each conversation. */
export interface ConversationListEntry {
  id: string;
  workspaceId: string;
  title: string;
  createdAt: string;
}

function listEntry(c: ConversationRecord): ConversationListEntry {
  return { id: c.id, workspaceId: c.workspaceId, title: c.title, createdAt: c.createdAt };
}

function conversationListKey(c: ConversationRecord): string {
  return layout.conversationListKey(c.tenant, c.workspaceId, Date.parse(c.createdAt), c.id);
}

function notFound(what: string): WorkcellError {
  return new WorkcellError('not_found', `${what} not found`);
}

/**
 * Workspaces, conversations and runs, stored as JSON records in the ObjectStore under the
 * tenant's prefix, so they survive the host and Redis. Every lookup is scoped by tenant:
 * another tenant's id is simply not found.
 */
export class Catalog {
  /** Tenants (and `tenant/workspace`s) whose lists are known to cover every record. */
  private readonly listReady = new Set<string>();

  constructor(
    private readonly store: ObjectStore,
    /** The time records are stamped with (`createdAt`). */
    private readonly clock: Clock = systemClock,
  ) {}

  private async readJson<T>(key: string): Promise<T | null> {
    const buf = await this.store.getBuffer(key);
    return buf ? (JSON.parse(buf.toString('utf8')) as T) : null;
  }

  private async writeJson(key: string, value: unknown): Promise<void> {
    await this.store.put(key, Buffer.from(JSON.stringify(value)), {
      contentType: 'application/json',
    });
  }

  async createWorkspace(tenant: string, name: string | undefined): Promise<WorkspaceRecord> {
    const record = this.newWorkspaceRecord(tenant, name);
    await this.publishWorkspace(record);
    return record;
  }

  /** A workspace record with a fresh id, not stored yet (`publishWorkspace` stores it). */
  newWorkspaceRecord(tenant: string, name: string | undefined): WorkspaceRecord {
    const id = newId('ws');
    return { id, tenant, name: name ?? id, createdAt: new Date(this.clock.now()).toISOString() };
  }

  /**
   * Stores the workspace's record and its index and list entries: until then the workspace is
   * not found or listed, so a fork fills it first and publishes it last.
   */
  async publishWorkspace(record: WorkspaceRecord): Promise<void> {
    const { tenant, id } = record;
    // A new workspace's conversation list is complete from the start.
    await this.writeJson(layout.conversationListReadyKey(tenant, id), { ready: true });
    await this.writeJson(layout.workspaceMetaKey(tenant, id), record);
    await this.writeJson(layout.workspaceIndexKey(tenant, id), record);
    await this.writeJson(listKey(record), record);
  }

  /** The workspace, or `not_found` (also for malformed ids and other tenants' ids). */
  async getWorkspace(tenant: string, workspaceId: string): Promise<WorkspaceRecord> {
    if (!ID_PATTERN.test(workspaceId) || !workspaceId.startsWith('ws_'))
      throw notFound('workspace');
    const record = await this.readJson<WorkspaceRecord>(
      layout.workspaceMetaKey(tenant, workspaceId),
    );
    if (!record) throw notFound('workspace');
    return record;
  }

  /**
   * One page of the tenant's workspaces in creation order. The order lives in the keys of the
   * workspace list, so a page costs one listing of keys and one small read per workspace on the
   * page, whatever the tenant's number of workspaces.
   */
  async listWorkspacePage(tenant: string, req: PageRequest): Promise<Page<WorkspaceRecord>> {
    await this.ensureWorkspaceList(tenant);
    return this.keyedPage<WorkspaceRecord>(
      layout.workspaceListPrefix(tenant),
      (key) => layout.sortKeyOfWorkspaceListKey(tenant, key),
      req,
    );
  }

  /**
   * A page of a creation-ordered list whose keys are `<prefix><sort key>.json` with fixed-width
   * sort keys (key order is sort-key order): the store lists from the cursor, and only the
   * records on the page are read.
   */
  private async keyedPage<T>(
    prefix: string,
    sortKeyOf: (key: string) => string | null,
    req: PageRequest,
  ): Promise<Page<T>> {
    const objects = await this.store.list(prefix, {
      ...(req.after === null ? {} : { startAfter: `${prefix}${req.after}.json` }),
      limit: req.limit + 1,
    });
    const after = req.after;
    const keyed = objects
      .map((o) => ({ key: o.key, sortKey: sortKeyOf(o.key) }))
      .filter((k): k is { key: string; sortKey: string } => k.sortKey !== null)
      .filter((k) => after === null || compareSortKeys(k.sortKey, after) > 0)
      .sort((a, b) => compareSortKeys(a.sortKey, b.sortKey));
    const page = keyed.slice(0, req.limit);
    const records: (T | null)[] = await Promise.all(page.map((k) => this.readJson<T>(k.key)));
    const last = page.at(-1);
    return {
      items: records.filter((r): r is T => r !== null),
      nextKey: keyed.length > req.limit && last ? last.sortKey : null,
    };
  }

  /**
   * One page of a workspace's conversations in creation order (their list entries hold the
   * fields a list shows: id, workspace, title, creation time).
   */
  async listConversationPage(
    tenant: string,
    workspaceId: string,
    req: PageRequest,
  ): Promise<Page<ConversationListEntry>> {
    await this.getWorkspace(tenant, workspaceId);
    await this.ensureConversationList(tenant, workspaceId);
    return this.keyedPage<ConversationListEntry>(
      layout.conversationListPrefix(tenant, workspaceId),
      (key) => layout.sortKeyOfConversationListKey(tenant, workspaceId, key),
      req,
    );
  }

  private async ensureConversationList(tenant: string, workspaceId: string): Promise<void> {
    const marker = `${tenant}/${workspaceId}`;
    if (this.listReady.has(marker)) return;
    const readyKey = layout.conversationListReadyKey(tenant, workspaceId);
    if (!(await this.store.head(readyKey))) {
      for (const record of await this.listConversations(tenant, workspaceId)) {
        const key = conversationListKey(record);
        if (!(await this.store.head(key))) await this.writeJson(key, listEntry(record));
      }
      await this.writeJson(readyKey, { ready: true });
    }
    this.listReady.add(marker);
  }

  /**
   * Workspaces made before the workspace list existed get their entry once per tenant; an
   * entry whose workspace went meanwhile is taken out again.
   */
  private async ensureWorkspaceList(tenant: string): Promise<void> {
    if (this.listReady.has(tenant)) return;
    const readyKey = layout.workspaceListReadyKey(tenant);
    if (!(await this.store.head(readyKey))) {
      for (const record of await this.listWorkspaces(tenant)) {
        const key = listKey(record);
        if (await this.store.head(key)) continue;
        await this.writeJson(key, record);
        if (!(await this.store.head(layout.workspaceMetaKey(tenant, record.id))))
          await this.store.delete(key);
      }
      await this.writeJson(readyKey, { ready: true });
    }
    this.listReady.add(tenant);
  }

  /** Every workspace of the tenant (one read each): the workspace list's backfill source. */
  async listWorkspaces(tenant: string): Promise<WorkspaceRecord[]> {
    const objects = await this.store.list(layout.workspaceIndexPrefix(tenant));
    const ids = objects
      .map((o) => layout.workspaceIdOfIndexKey(tenant, o.key))
      .filter((id): id is string => id !== null);
    const records = await Promise.all(
      ids.map((id) => this.readJson<WorkspaceRecord>(layout.workspaceMetaKey(tenant, id))),
    );
    return records
      .filter((r): r is WorkspaceRecord => r !== null)
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  /** Deletes everything stored for the workspace: files, sessions, conversations, runs. */
  async deleteWorkspace(tenant: string, workspaceId: string): Promise<void> {
    const conversations = await this.listConversations(tenant, workspaceId);
    await this.store.deleteMany(
      conversations.map((c) => layout.conversationIndexKey(tenant, c.id)),
    );
    const record = await this.readJson<WorkspaceRecord>(
      layout.workspaceMetaKey(tenant, workspaceId),
    );
    if (record) await this.store.delete(listKey(record));
    await this.store.deletePrefix(layout.workspaceRoot(tenant, workspaceId));
    await this.store.delete(layout.workspaceIndexKey(tenant, workspaceId));
  }

  async createConversation(
    tenant: string,
    workspaceId: string,
    title: string | undefined,
  ): Promise<ConversationRecord> {
    await this.getWorkspace(tenant, workspaceId);
    const record = this.newConversationRecord(tenant, workspaceId, title);
    await this.putConversation(record);
    return record;
  }

  /** A conversation record with a fresh id and no runs, not stored yet. */
  newConversationRecord(
    tenant: string,
    workspaceId: string,
    title: string | undefined,
  ): ConversationRecord {
    return {
      id: newId('conv'),
      workspaceId,
      tenant,
      title: title ?? 'Untitled',
      createdAt: new Date(this.clock.now()).toISOString(),
      sessionId: null,
      runs: [],
    };
  }

  /** Stores a new conversation: its record, its id's index entry and its list entry. */
  async putConversation(record: ConversationRecord): Promise<void> {
    const { tenant, workspaceId, id } = record;
    await this.writeJson(layout.conversationMetaKey(tenant, workspaceId, id), record);
    await this.writeJson(layout.conversationIndexKey(tenant, id), { workspaceId });
    await this.writeJson(conversationListKey(record), listEntry(record));
  }

  /**
   * Removes what a fork stored of a workspace it did not finish: every object under its root,
   * its conversations' index entries and its own index and list entries.
   */
  async discardWorkspace(
    record: WorkspaceRecord,
    conversationIds: readonly string[],
  ): Promise<void> {
    const { tenant, id } = record;
    await this.store.deleteMany(conversationIds.map((c) => layout.conversationIndexKey(tenant, c)));
    await this.store.delete(listKey(record));
    await this.store.delete(layout.workspaceIndexKey(tenant, id));
    await this.store.deletePrefix(layout.workspaceRoot(tenant, id));
  }

  /** Removes a conversation a fork stored and did not finish. */
  async discardConversation(record: ConversationRecord): Promise<void> {
    const { tenant, workspaceId, id } = record;
    await this.store.delete(conversationListKey(record));
    await this.store.delete(layout.conversationIndexKey(tenant, id));
    await this.store.deletePrefix(layout.conversationRoot(tenant, workspaceId, id));
  }

  /** Copies a finished run's event log to another conversation (inside the store). */
  async copyRunEvents(
    from: ConversationRecord,
    to: ConversationRecord,
    runId: string,
  ): Promise<void> {
    const source = layout.runEventsKey(from.tenant, from.workspaceId, from.id, runId);
    if (!(await this.store.head(source))) return;
    await this.store.copy(source, layout.runEventsKey(to.tenant, to.workspaceId, to.id, runId));
  }

  async getConversation(tenant: string, conversationId: string): Promise<ConversationRecord> {
    if (!ID_PATTERN.test(conversationId) || !conversationId.startsWith('conv_'))
      throw notFound('conversation');
    const index = await this.readJson<{ workspaceId: string }>(
      layout.conversationIndexKey(tenant, conversationId),
    );
    if (!index) throw notFound('conversation');
    const record = await this.readJson<ConversationRecord>(
      layout.conversationMetaKey(tenant, index.workspaceId, conversationId),
    );
    if (!record) throw notFound('conversation');
    return record;
  }

  async listConversations(tenant: string, workspaceId: string): Promise<ConversationRecord[]> {
    await this.getWorkspace(tenant, workspaceId);
    const objects = await this.store.list(layout.conversationsPrefix(tenant, workspaceId));
    const ids = objects
      .map((o) => layout.conversationIdOfMetaKey(tenant, workspaceId, o.key))
      .filter((id): id is string => id !== null);
    const records = await Promise.all(
      ids.map((id) =>
        this.readJson<ConversationRecord>(layout.conversationMetaKey(tenant, workspaceId, id)),
      ),
    );
    return records
      .filter((r): r is ConversationRecord => r !== null)
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  /** Applies `change` to the stored conversation (one run per workspace at a time, so no race). */
  async updateConversation(
    conversation: ConversationRecord,
    change: (record: ConversationRecord) => void,
  ): Promise<ConversationRecord> {
    const key = layout.conversationMetaKey(
      conversation.tenant,
      conversation.workspaceId,
      conversation.id,
    );
    const current = (await this.readJson<ConversationRecord>(key)) ?? conversation;
    change(current);
    await this.writeJson(key, current);
    return current;
  }

  /** A run of the conversation, or `not_found`. */
  getRun(conversation: ConversationRecord, runId: string): RunRecord {
    const run = conversation.runs.find((r) => r.id === runId);
    if (!run) throw notFound('run');
    return run;
  }

  /** Stores a finished run's events (`run-log.ts`). */
  async writeRunEvents(
    conversation: ConversationRecord,
    runId: string,
    events: readonly BufferedEvent[],
  ): Promise<void> {
    await this.store.put(
      layout.runEventsKey(conversation.tenant, conversation.workspaceId, conversation.id, runId),
      encodeRunLog(events),
      { contentType: RUN_LOG_CONTENT_TYPE },
    );
  }

  /** A finished run's events; none when the run has not ended (or has no log). */
  async readRunEvents(conversation: ConversationRecord, runId: string): Promise<BufferedEvent[]> {
    const buf = await this.store.getBuffer(
      layout.runEventsKey(conversation.tenant, conversation.workspaceId, conversation.id, runId),
    );
    return buf ? decodeRunLog(buf.toString('utf8')) : [];
  }
}
