import type { ContentBlock } from '@workcell/protocol';
import type { Logger } from 'pino';
import type { Principal } from '../auth/tokens.js';
import type { Catalog, ConversationRecord, RunRecord } from '../catalog/catalog.js';
import type { RunService } from '../execute/execute-service.js';
import type { FinishedRunSource, RunEventLog } from '../execute/run-events.js';
import type { WorkspaceRemover } from '../workspace/workspace-removal.js';
import type { BufferedEvent } from '../state/state-store.js';
import type { ApprovalService } from '../approvals/index.js';
import { leaseHolder, LEASES, takeLease, type HeldLease, type LeaseDeps } from '../state/leases.js';
import type { StateStore } from '../state/state-store.js';
import { systemClock } from '../time/clock.js';
import { policyOf, type AgentService, type AgentVersion } from './agents.js';
import { WorkcellError } from '@workcell/protocol';
import { packageListsOf, type Environment, type EnvironmentService } from './environments.js';
import { AnthropicApiError, conflict, notFound, statusOf } from './errors.js';
import type { PackageInstaller } from './package-install.js';
import type { PackageLists } from './package-specs.js';
import { newResourceId } from './ids.js';
import type { RecordStore } from './record-store.js';
import type { SendableEvent } from './schemas.js';
import type { SessionFeed } from './session-feed.js';
import type { SessionSetup } from './session-setup.js';
import {
  RunTranslator,
  summaryUsage,
  type PendingAction,
  type SessionEvent,
} from './translate-events.js';
import type { VaultService } from './vaults.js';

/** A session event recorded by the session itself (sent by the user, or a refused turn). */
interface InboxEntry {
  event: SessionEvent;
  /** The run that took the message (or was interrupted); null while a message waits. */
  runId: string | null;
  /** For events of no run: the run they follow (null: before the first). */
  after?: string | null;
  /** For events sent during a run other than messages: the run's event they follow. */
  anchor?: string | null;
}

interface SessionRecord {
  id: string;
  workspaceId: string;
  conversationId: string;
  agent: AgentVersion;
  environment_id: string;
  title: string | null;
  metadata: Record<string, string>;
  vault_ids: string[];
  created_at: string;
  updated_at: string;
  archived_at: string | null;
  inbox: InboxEntry[];
  /**
   * The environment's packages, installed before the first turn (absent when it has none):
   * `pending` until then, `installed` or `failed` after; the environment as it was when the
   * session was created, whose egress applies once they are in.
   */
  packages?: {
    lists: PackageLists;
    state: 'pending' | 'installed' | 'failed';
    environment: Environment;
  };
}

export type SessionStatus = 'idle' | 'running' | 'rescheduling' | 'terminated';

type Listener = (event: SessionEvent) => void;

export interface SessionDeps {
  records: RecordStore;
  agents: AgentService;
  environments: EnvironmentService;
  vaults: VaultService;
  setup: SessionSetup;
  packages: Pick<PackageInstaller, 'install' | 'hosts'>;
  catalog: Catalog;
  execute: RunService;
  events: RunEventLog;
  /** Every session event published on any host, followed from any host. */
  feed: SessionFeed;
  /** The leases that serialise a session's changes and its turns across hosts. */
  state: StateStore;
  hostId: string;
  workspaces: WorkspaceRemover;
  /** Decisions on approvals and results of client tool calls. */
  approvals: Pick<ApprovalService, 'decide' | 'sendResult'>;
  logger: Logger;
  clock?: () => number;
}

const TERMINAL_TYPES = new Set(['session.error', 'session.status_idle']);

/** The lease over a session record's read-modify-write; renewed while held. */
const SESSION_LOCK_TTL_MS = 15_000;
/** How long a change waits for another host's change to the same session. */
const SESSION_LOCK_WAIT_MS = 30_000;
/** The lease of the host taking a session's turns; renewed while it takes them. */
const SESSION_TURNS_TTL_MS = 30_000;
/** Feed events a resumed stream reads again before the feed's tail (deduplicated by id). */
const RESUME_OVERLAP = 64;
/**
 * How often a host that finds the turns lease held looks at the session again (waiting
 * messages, a turn in progress): a third of the lease's TTL, so a dead host's turns are taken
 * soon after its lease expires.
 */
const RECHECK_MS = SESSION_TURNS_TTL_MS / 3;
/**
 * How long a turn carried on from a host that went away may be held by no host at all (neither
 * its run's attach lease nor its workspace lock held: nobody adopted the run; a host of the
 * run's data directory adopts it within seconds of the lease expiring) while messages wait,
 * before they are taken without it.
 */
const ORPHANED_TURN_MS = 5_000;
/** How often a carried-on turn's leases are looked at. */
const ORPHAN_POLL_MS = 1_000;

/** A user message no turn has taken yet (nor refused). */
function isWaiting(e: InboxEntry): boolean {
  return e.runId === null && e.after === undefined && e.event.type === 'user.message';
}

function parsed(e: BufferedEvent): { seq: number; event: string; data: unknown } {
  return { seq: e.seq, event: e.event, data: JSON.parse(e.data) as unknown };
}

/**
 * Sessions: a Workcell workspace with one conversation, set up from an agent version, an
 * environment and vaults. User messages wait in the session's inbox and are taken in order,
 * all that wait at once as one turn (one Workcell run), by the pump of the one host holding
 * the session's turns lease, wherever they were sent; the record changes under a lease too,
 * so hosts never overwrite each other's changes. The run's events are translated
 * (`translate-events.ts`) and published: to this host's listeners at once, and to the
 * session's feed (`session-feed.ts`), which streams on every host follow. The history is
 * derived from the conversation's recorded runs and the inbox, so it survives the host.
 */
export class SessionService {
  private readonly listeners = new Map<string, Set<Listener>>();
  /** Sessions whose turns this host takes: the running run, and whether it waits for the user. */
  private readonly pumps = new Map<
    string,
    { runId: string | null; waiting: boolean; turns: HeldLease }
  >();
  private readonly locks = new Map<string, Promise<unknown>>();
  /** Sessions whose waiting messages this host looks at again once another host's turns lease could have expired. */
  private readonly rechecks = new Map<string, NodeJS.Timeout>();
  private readonly clock: () => number;
  private readonly leases: LeaseDeps;

  constructor(private readonly deps: SessionDeps) {
    this.clock = deps.clock ?? Date.now;
    this.leases = { state: deps.state, clock: systemClock, logger: deps.logger };
  }

  private now(): string {
    return new Date(this.clock()).toISOString();
  }

  /**
   * Runs `fn` after every earlier call for the same session on this host, holding the session's
   * lease so no other host changes its record meanwhile (read-modify-write of its record).
   */
  private locked<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(id) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(() => this.acrossHosts(id, fn));
    this.locks.set(id, next);
    void next
      .finally(() => {
        if (this.locks.get(id) === next) this.locks.delete(id);
      })
      .catch(() => undefined);
    return next;
  }

  private async acrossHosts<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const spec = {
      name: LEASES.session(id),
      holder: leaseHolder('session', this.deps.hostId),
      ttlMs: SESSION_LOCK_TTL_MS,
    };
    const deadline = this.clock() + SESSION_LOCK_WAIT_MS;
    for (let pause = 5; ; pause = Math.min(pause * 2, 100)) {
      const lease = await takeLease(this.leases, spec);
      if (lease)
        try {
          return await fn();
        } finally {
          await lease.release();
        }
      if (this.clock() > deadline)
        throw new AnthropicApiError(
          'overloaded_error',
          `session ${id} is being changed through another host; retry`,
        );
      await new Promise((r) => setTimeout(r, pause));
    }
  }

  private async record(tenant: string, id: string): Promise<SessionRecord> {
    const record = await this.deps.records.get<SessionRecord>(tenant, 'sessions', id);
    if (!record) throw notFound('session', id);
    return record;
  }

  private save(tenant: string, record: SessionRecord): Promise<void> {
    return this.deps.records.put(tenant, 'sessions', record.id, record);
  }

  /** The feed position a stream opened now follows from (see `followFeed`). */
  async feedStart(id: string, resuming: boolean): Promise<number> {
    const tail = await this.deps.feed.tail(id);
    return resuming ? Math.max(0, tail - RESUME_OVERLAP) : tail;
  }

  /** The session's events published on any host after feed position `after`, until it is gone. */
  followFeed(
    tenant: string,
    id: string,
    after: number,
    signal: AbortSignal,
  ): AsyncGenerator<SessionEvent[]> {
    return this.deps.feed.follow(id, after, signal, () =>
      this.deps.records.get(tenant, 'sessions', id).then((r) => r === null),
    );
  }

  /** Subscribes to the session's events published on this host; answers the unsubscribe. */
  subscribe(id: string, listener: Listener): () => void {
    const set = this.listeners.get(id) ?? new Set<Listener>();
    set.add(listener);
    this.listeners.set(id, set);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(id);
    };
  }

  /** Hands the event to this host's listeners at once and to the feed other hosts follow. */
  private publish(id: string, event: SessionEvent): Promise<void> {
    for (const listener of this.listeners.get(id) ?? []) listener(event);
    return this.deps.feed.append(id, event);
  }

  /** The run a session is in: this host's, else the conversation's run in progress. */
  private runningOf(id: string, conversation: ConversationRecord | null): string | null {
    return (
      this.pumps.get(id)?.runId ??
      conversation?.runs.find((r) => r.status === 'running')?.id ??
      null
    );
  }

  async create(
    principal: Principal,
    body: {
      agent: string | { type: 'agent'; id: string; version?: number | undefined };
      environment_id: string;
      title?: string | null | undefined;
      metadata?: Record<string, string> | undefined;
      vault_ids?: string[] | undefined;
    },
  ): Promise<Record<string, unknown>> {
    const { tenant } = principal;
    const ref =
      typeof body.agent === 'string' ? { id: body.agent, version: undefined } : body.agent;
    const agent = await this.deps.agents
      .retrieve(tenant, ref.id, ref.version)
      .catch((err: unknown) => {
        throw statusOf(err) === 404
          ? new AnthropicApiError('invalid_request_error', `agent: ${ref.id} not found`)
          : err;
      });
    if (agent.archived_at)
      throw new AnthropicApiError('invalid_request_error', `agent ${agent.id} is archived`);
    const environment = await this.deps.environments
      .usable(tenant, body.environment_id)
      .catch((err: unknown) => {
        throw statusOf(err) === 404
          ? new AnthropicApiError(
              'invalid_request_error',
              `environment_id: ${body.environment_id} not found`,
            )
          : err;
      });
    const vaultIds = body.vault_ids ?? [];
    for (const vaultId of vaultIds) {
      const vault = await this.deps.vaults.vault(tenant, vaultId).catch(() => null);
      if (!vault || vault.archived_at)
        throw new AnthropicApiError(
          'invalid_request_error',
          `vault_ids: ${vaultId} is not a usable vault`,
        );
    }
    const id = newResourceId('session', this.clock());
    const workspace = await this.deps.catalog.createWorkspace(tenant, body.title ?? id);
    try {
      const conversation = await this.deps.catalog.createConversation(
        tenant,
        workspace.id,
        body.title ?? undefined,
      );
      const lists = packageListsOf(environment);
      const hasPackages = lists.npm.length > 0 || lists.pip.length > 0;
      if (hasPackages)
        await this.deps.setup.prepareInstall(
          tenant,
          workspace.id,
          agent,
          this.deps.packages.hosts(lists),
        );
      else await this.deps.setup.apply(tenant, workspace.id, agent, environment, vaultIds);
      const now = this.now();
      const record: SessionRecord = {
        id,
        workspaceId: workspace.id,
        conversationId: conversation.id,
        agent,
        environment_id: environment.id,
        title: body.title ?? null,
        metadata: body.metadata ?? {},
        vault_ids: vaultIds,
        created_at: now,
        updated_at: now,
        archived_at: null,
        inbox: [],
        ...(hasPackages ? { packages: { lists, state: 'pending' as const, environment } } : {}),
      };
      await this.save(tenant, record);
      return this.view(record, conversation);
    } catch (err) {
      await this.deps.workspaces.remove(tenant, workspace.id).catch(() => undefined);
      throw err;
    }
  }

  private status(
    record: SessionRecord,
    conversation: ConversationRecord,
    waitsElsewhere: boolean,
  ): SessionStatus {
    const pump = this.pumps.get(record.id);
    if (pump) return pump.waiting ? 'idle' : 'running';
    if (conversation.runs.some((r) => r.status === 'running'))
      return waitsElsewhere ? 'idle' : 'running';
    if (record.inbox.some((e) => e.runId === null && e.event.type === 'user.message'))
      return 'running';
    return 'idle';
  }

  /** True when another host runs the session's turn and it waits for the user. */
  private async waitsElsewhere(
    record: SessionRecord,
    conversation: ConversationRecord,
  ): Promise<boolean> {
    if (this.pumps.has(record.id)) return false;
    const running = this.runningOf(record.id, conversation);
    if (!running) return false;
    return (await this.runState(record, conversation, running)).pending.size > 0;
  }

  private view(
    record: SessionRecord,
    conversation: ConversationRecord,
    waitsElsewhere = false,
  ): Record<string, unknown> {
    const usage = {
      input_tokens: 0,
      output_tokens: 0,
      cache_read_input_tokens: 0,
      cache_creation_input_tokens: 0,
    };
    let activeMs = 0;
    for (const run of conversation.runs) {
      const u = summaryUsage(run.summary);
      usage.input_tokens += u.input_tokens ?? 0;
      usage.output_tokens += u.output_tokens ?? 0;
      usage.cache_read_input_tokens += u.cache_read_input_tokens ?? 0;
      usage.cache_creation_input_tokens += u.cache_creation_input_tokens ?? 0;
      activeMs += run.summary?.durationMs ?? 0;
    }
    const { agent } = record;
    return {
      id: record.id,
      type: 'session',
      agent: {
        type: 'agent',
        id: agent.id,
        version: agent.version,
        name: agent.name,
        description: agent.description,
        model: agent.model,
        system: agent.system,
        tools: agent.tools,
        mcp_servers: agent.mcp_servers,
        skills: [],
        multiagent: null,
        execution_identity: agent.execution_identity,
      },
      environment_id: record.environment_id,
      title: record.title,
      metadata: record.metadata,
      vault_ids: record.vault_ids,
      status: this.status(record, conversation, waitsElsewhere),
      usage: {
        input_tokens: usage.input_tokens,
        output_tokens: usage.output_tokens,
        cache_read_input_tokens: usage.cache_read_input_tokens,
        cache_creation: { ephemeral_5m_input_tokens: usage.cache_creation_input_tokens },
        active_seconds: activeMs / 1000,
      },
      stats: {
        active_seconds: activeMs / 1000,
        duration_seconds: (this.clock() - Date.parse(record.created_at)) / 1000,
      },
      resources: [],
      outcome_evaluations: [],
      budget: null,
      created_at: record.created_at,
      updated_at: record.updated_at,
      archived_at: record.archived_at,
    };
  }

  /** Throws `not_found_error` unless the tenant has the session. */
  async exists(tenant: string, id: string): Promise<void> {
    await this.record(tenant, id);
  }

  async retrieve(tenant: string, id: string): Promise<Record<string, unknown>> {
    const record = await this.record(tenant, id);
    const conversation = await this.deps.catalog.getConversation(tenant, record.conversationId);
    return this.view(record, conversation, await this.waitsElsewhere(record, conversation));
  }

  async update(
    tenant: string,
    id: string,
    body: {
      title?: string | null | undefined;
      metadata?: Record<string, string | null> | null | undefined;
    },
  ): Promise<Record<string, unknown>> {
    return this.locked(id, async () => {
      const record = await this.record(tenant, id);
      if (record.archived_at) throw conflict(`session ${id} is archived`);
      if (body.title !== undefined) record.title = body.title;
      if (body.metadata === null) record.metadata = {};
      else if (body.metadata)
        for (const [k, v] of Object.entries(body.metadata)) {
          if (v === null) delete record.metadata[k];
          else record.metadata[k] = v;
        }
      record.updated_at = this.now();
      await this.save(tenant, record);
      return this.retrieve(tenant, id);
    });
  }

  async list(
    tenant: string,
    filter: {
      includeArchived: boolean;
      agentId?: string | undefined;
      agentVersion?: number | undefined;
      order: 'asc' | 'desc';
    },
  ): Promise<Record<string, unknown>[]> {
    const records = await this.deps.records.list<SessionRecord>(tenant, 'sessions');
    const chosen = records.filter(
      (r) =>
        (filter.includeArchived || r.archived_at === null) &&
        (filter.agentId === undefined || r.agent.id === filter.agentId) &&
        (filter.agentVersion === undefined || r.agent.version === filter.agentVersion),
    );
    if (filter.order === 'desc') chosen.reverse();
    return Promise.all(
      chosen.map(async (r) => {
        const conversation = await this.deps.catalog.getConversation(tenant, r.conversationId);
        return this.view(r, conversation, await this.waitsElsewhere(r, conversation));
      }),
    );
  }

  async archive(tenant: string, id: string): Promise<Record<string, unknown>> {
    return this.locked(id, async () => {
      const record = await this.record(tenant, id);
      if (!record.archived_at) {
        record.archived_at = this.now();
        record.updated_at = record.archived_at;
        await this.save(tenant, record);
      }
      return this.retrieve(tenant, id);
    });
  }

  /** Deletes the session with its workspace, container, history and snapshots. */
  async delete(tenant: string, id: string): Promise<{ id: string; type: 'session_deleted' }> {
    return this.locked(id, async () => {
      const record = await this.record(tenant, id);
      const conversation = await this.deps.catalog
        .getConversation(tenant, record.conversationId)
        .catch(() => null);
      const running = this.runningOf(id, conversation);
      if (running)
        await this.deps.execute
          .interrupt({ tenant, admin: false }, record.conversationId, running)
          .catch(() => undefined);
      await this.removeWorkspace(tenant, record.workspaceId);
      // In the feed before the record goes: a stream on another host ends on it, not before.
      await this.publish(id, {
        id: newResourceId('event', this.clock()),
        type: 'session.deleted',
        processed_at: this.now(),
      });
      await this.deps.records.delete(tenant, 'sessions', id);
      return { id, type: 'session_deleted' };
    });
  }

  /** Removes the workspace, waiting out the end of an interrupted run that still holds it. */
  private async removeWorkspace(tenant: string, workspaceId: string): Promise<void> {
    const deadline = this.clock() + 30_000;
    for (;;) {
      try {
        await this.deps.workspaces.remove(tenant, workspaceId);
        return;
      } catch (err) {
        const busy = (err as { code?: string }).code === 'workspace_busy';
        if (!busy || this.clock() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  /** Records and acts on sent events; answers them as recorded. */
  async send(principal: Principal, id: string, events: SendableEvent[]): Promise<SessionEvent[]> {
    const { tenant } = principal;
    const sent: SessionEvent[] = [];
    await this.locked(id, async () => {
      const record = await this.record(tenant, id);
      if (record.archived_at) throw conflict(`session ${id} is archived and read-only`);
      // Only events other than messages need the conversation (a message is all most sends hold).
      const conversation = events.some((e) => e.type !== 'user.message')
        ? await this.deps.catalog.getConversation(tenant, record.conversationId)
        : null;
      const lastRun = conversation?.runs.at(-1)?.id ?? null;
      for (const e of events) {
        const event: SessionEvent = {
          id: newResourceId('event', this.clock()),
          type: e.type,
          processed_at: null,
          ...(e.type === 'user.message' ? { content: e.content } : {}),
        };
        if (e.type === 'user.message') {
          record.inbox.push({ event, runId: null });
        } else if (e.type === 'user.tool_confirmation' || e.type === 'user.custom_tool_result') {
          Object.assign(event, this.userAnswerFields(e));
          event.processed_at = this.now();
          const running = this.runningOf(id, conversation);
          const { pending, lastEventId } =
            running && conversation
              ? await this.runState(record, conversation, running)
              : { pending: new Map<string, PendingAction>(), lastEventId: null };
          const target = e.type === 'user.tool_confirmation' ? e.tool_use_id : e.custom_tool_use_id;
          const action = pending.get(target);
          if (
            !running ||
            !action ||
            (action.kind === 'approval') !== (e.type === 'user.tool_confirmation')
          )
            throw new AnthropicApiError(
              'invalid_request_error',
              `${target} is not waiting for ${e.type}`,
            );
          if (e.type === 'user.tool_confirmation' && action.kind === 'approval')
            await this.deps.approvals.decide(tenant, record.conversationId, action.approvalId, {
              decision: e.result,
              ...(e.deny_message ? { message: e.deny_message } : {}),
            });
          else if (e.type === 'user.custom_tool_result' && action.kind === 'tool')
            await this.deps.approvals.sendResult(tenant, record.conversationId, action.callId, {
              content: e.content && e.content.length > 0 ? e.content : '',
              isError: e.is_error ?? false,
            });
          record.inbox.push({ event, runId: running, anchor: lastEventId });
        } else {
          const running = this.runningOf(id, conversation);
          event.processed_at = this.now();
          record.inbox.push(
            running ? { event, runId: running } : { event, runId: null, after: lastRun },
          );
          if (running)
            await this.deps.execute
              .interrupt(principal, record.conversationId, running)
              .catch((err: unknown) =>
                this.deps.logger.warn({ err, session: id }, 'interrupt failed'),
              );
        }
        sent.push(event);
      }
      record.updated_at = this.now();
      await this.save(tenant, record);
      for (const event of sent) void this.publish(id, event);
      if (!this.pumps.has(id) && record.inbox.some(isWaiting)) await this.startPump(principal, id);
    });
    return sent;
  }

  /** The fields of a confirmation or tool result as its session event carries them. */
  private userAnswerFields(e: SendableEvent): Record<string, unknown> {
    if (e.type === 'user.tool_confirmation')
      return {
        tool_use_id: e.tool_use_id,
        result: e.result,
        ...(e.deny_message ? { deny_message: e.deny_message } : {}),
      };
    if (e.type === 'user.custom_tool_result')
      return {
        custom_tool_use_id: e.custom_tool_use_id,
        content: e.content ?? [],
        is_error: e.is_error ?? false,
      };
    return {};
  }

  /** What a running run waits on, and its latest session event so far. */
  private async runState(
    record: SessionRecord,
    conversation: ConversationRecord,
    runId: string,
  ): Promise<{ pending: ReadonlyMap<string, PendingAction>; lastEventId: string | null }> {
    const run = conversation.runs.find((r) => r.id === runId);
    const translator = new RunTranslator({
      runId,
      startedAt: run?.startedAt ?? this.now(),
      endedAt: () => this.now(),
      permissionOf: policyOf(record.agent),
    });
    const events = (await this.deps.events.read(runId, 0)).flatMap((e) =>
      translator.push(parsed(e)),
    );
    return { pending: translator.pending, lastEventId: events.at(-1)?.id ?? null };
  }

  /**
   * Starts this host's pump for the session unless another host holds its turns lease (that
   * host's pump reads the inbox again before it stops, under the record's lease, so it takes
   * the message). Called under the record's lease.
   */
  private async startPump(principal: Principal, id: string): Promise<void> {
    const turns = await takeLease(this.leases, {
      name: LEASES.sessionTurns(id),
      holder: leaseHolder('session', this.deps.hostId),
      ttlMs: SESSION_TURNS_TTL_MS,
    });
    if (!turns) {
      this.recheckLater(principal, id);
      return;
    }
    this.pumps.set(id, { runId: null, waiting: false, turns });
    void this.pump(principal, id)
      .catch((err: unknown) => this.deps.logger.error({ err, session: id }, 'session pump failed'))
      .finally(async () => {
        const pump = this.pumps.get(id);
        if (pump?.turns !== turns) return;
        this.pumps.delete(id);
        await turns.release();
      });
  }

  /**
   * A stream of the session opened on this host: unless this host takes its turns, makes sure
   * they are taken somewhere, so the stream sees a turn through to its end even when the host
   * running it goes away (`lookAgain` now, then every RECHECK_MS while another host holds the
   * turns lease and a turn runs, as long as a stream is open here or messages wait).
   */
  watchTurns(principal: Principal, id: string): void {
    if (this.pumps.has(id)) return;
    void this.lookAgain(principal, id);
  }

  /**
   * Looks at the session again in RECHECK_MS: a host that held the turns lease and went away
   * stops renewing it, and its waiting messages, or its turn in progress, are taken here once it
   * expires instead of waiting for the next send. While a live host holds it, they are looked at
   * again later.
   */
  private recheckLater(principal: Principal, id: string): void {
    if (this.rechecks.has(id)) return;
    const timer = setTimeout(() => {
      this.rechecks.delete(id);
      void this.lookAgain(principal, id);
    }, RECHECK_MS);
    timer.unref();
    this.rechecks.set(id, timer);
  }

  /**
   * Starts this host's pump (under the record's lease) when the session has waiting messages,
   * or a turn in progress that a stream on this host follows, and no pump here; `startPump`
   * looks again later while another host holds the turns lease.
   */
  private async lookAgain(principal: Principal, id: string): Promise<void> {
    const { tenant } = principal;
    await this.locked(id, async () => {
      if (this.pumps.has(id)) return;
      const record = await this.deps.records.get<SessionRecord>(tenant, 'sessions', id);
      if (!record || record.archived_at) return;
      const busy =
        record.inbox.some(isWaiting) ||
        (this.listeners.has(id) &&
          (await this.deps.catalog.getConversation(tenant, record.conversationId)).runs.some(
            (r) => r.status === 'running',
          ));
      if (busy) await this.startPump(principal, id);
    }).catch((err: unknown) =>
      this.deps.logger.warn({ err, session: id }, 'cannot look at the turns of the session again'),
    );
  }

  /**
   * Takes waiting messages, one turn at a time, until none wait. Before its first turn it
   * carries on the turn in progress that another host started (that host went away, or its
   * pump ended before the run's end was recorded); the messages already waiting then are the
   * turn after it.
   */
  private async pump(principal: Principal, id: string): Promise<void> {
    const { tenant } = principal;
    let carried = false;
    for (;;) {
      const next = await this.locked(id, async () => {
        const record = await this.deps.records.get<SessionRecord>(tenant, 'sessions', id);
        const waiting = record?.inbox.filter(isWaiting) ?? [];
        if (!record || (waiting.length === 0 && carried)) {
          // What this host published is in the feed before another host may take the turns.
          await this.deps.feed.tail(id);
          // Released under the record's lease: a message recorded after this read starts a pump.
          const pump = this.pumps.get(id);
          this.pumps.delete(id);
          await pump?.turns.release();
          return null;
        }
        return { record, waiting };
      });
      if (!next) return;
      if (!carried) {
        carried = true;
        await this.carryOn(tenant, next.record);
      }
      if (next.waiting.length > 0) await this.turn(principal, next.record, next.waiting);
    }
  }

  /**
   * Follows the session's run in progress, started by another host, to its end, publishing the
   * translated events the session's feed does not hold yet (ids are derived from the run's id
   * and sequence, so the same event has the same id on every host): a stream sees the rest of
   * the turn once, whichever host adopted the run. A run no host holds for ORPHANED_TURN_MS
   * while messages wait is left, and the messages are taken.
   */
  private async carryOn(tenant: string, record: SessionRecord): Promise<void> {
    const conversation = await this.deps.catalog.getConversation(tenant, record.conversationId);
    const run = conversation.runs.find((r) => r.status === 'running');
    if (!run) return;
    const published = await this.deps.feed.publishedIds(record.id);
    const pump = this.pumps.get(record.id);
    if (pump) pump.runId = run.id;
    this.deps.logger.info(
      { session: record.id, runId: run.id, published: published.size },
      'carrying on the turn of another host',
    );
    const orphaned = new AbortController();
    const stop = this.leaveWhenOrphaned(tenant, record, run.id, orphaned);
    try {
      await this.follow(tenant, record, run.id, run.startedAt, {
        skip: published,
        signal: orphaned.signal,
      });
    } finally {
      stop();
      if (pump) pump.runId = null;
    }
    if (orphaned.signal.aborted)
      this.deps.logger.warn(
        { session: record.id, runId: run.id },
        'no host holds the turn in progress; the waiting messages are taken without it',
      );
  }

  /**
   * Aborts `orphaned` once neither the run's attach lease nor the session's workspace lock has
   * been held for ORPHANED_TURN_MS (no host runs or adopted the run) while messages wait;
   * answers the function that stops looking.
   */
  private leaveWhenOrphaned(
    tenant: string,
    record: SessionRecord,
    runId: string,
    orphaned: AbortController,
  ): () => void {
    const { state } = this.deps;
    let freeSince: number | null = null;
    const look = async (): Promise<void> => {
      const held =
        (await state.getLeaseHolder(LEASES.attach(runId))) !== null ||
        (await state.getLeaseHolder(LEASES.workspace(record.workspaceId))) !== null;
      if (held) {
        freeSince = null;
        return;
      }
      freeSince ??= this.clock();
      if (this.clock() - freeSince < ORPHANED_TURN_MS) return;
      const current = await this.deps.records.get<SessionRecord>(tenant, 'sessions', record.id);
      if (current?.inbox.some(isWaiting)) orphaned.abort();
    };
    const timer = setInterval(() => {
      look().catch((err: unknown) =>
        this.deps.logger.warn({ err, session: record.id }, 'cannot look at the holder of the turn'),
      );
    }, ORPHAN_POLL_MS);
    timer.unref();
    return () => clearInterval(timer);
  }

  private async turn(
    principal: Principal,
    record: SessionRecord,
    waiting: InboxEntry[],
  ): Promise<void> {
    const { tenant } = principal;
    const content: ContentBlock[] = waiting.flatMap(
      (e) => (e.event.content ?? []) as ContentBlock[],
    );
    let runId: string;
    try {
      if (record.packages?.state === 'pending') await this.installPackages(principal, record);
      await this.deps.setup.refreshSecrets(
        tenant,
        record.workspaceId,
        record.agent,
        record.packages?.lists,
        record.vault_ids,
      );
      ({ runId } = await this.deps.execute.start(principal, record.conversationId, content));
    } catch (err) {
      await this.refused(tenant, record.id, waiting, err);
      return;
    }
    const pump = this.pumps.get(record.id);
    if (pump) pump.runId = runId;
    const startedAt = this.now();
    // Recorded while the run's events are followed: the stream need not wait for the write.
    const marked = this.locked(record.id, async () => {
      const current = await this.record(tenant, record.id);
      for (const entry of current.inbox)
        if (waiting.some((w) => w.event.id === entry.event.id)) {
          entry.runId = runId;
          entry.event.processed_at = startedAt;
        }
      await this.save(tenant, current);
    }).catch((err: unknown) =>
      this.deps.logger.error(
        { err, session: record.id },
        'cannot record the turn of waiting messages',
      ),
    );
    for (const w of waiting) void this.publish(record.id, { ...w.event, processed_at: startedAt });
    await this.follow(tenant, record, runId, startedAt);
    await marked;
    if (pump) pump.runId = null;
  }

  /**
   * Installs the environment's packages into the session's workspace (its egress is only the
   * registries meanwhile), then applies the agent, vaults and environment egress. A failed
   * install is a `session.error` (`package_install_failed: ...`) and the turn goes on without
   * the packages; it is not tried again in this session.
   */
  private async installPackages(principal: Principal, record: SessionRecord): Promise<void> {
    const packages = record.packages;
    if (!packages) return;
    const { tenant } = principal;
    let failure: WorkcellError | null = null;
    try {
      const sources = await this.deps.packages.install(
        principal,
        record.workspaceId,
        packages.environment.id,
        packages.lists,
      );
      this.deps.logger.info({ session: record.id, sources }, 'environment packages in place');
    } catch (err) {
      failure =
        err instanceof WorkcellError && err.code === 'package_install_failed'
          ? err
          : new WorkcellError('package_install_failed', 'the packages could not be installed');
      this.deps.logger.warn({ err, session: record.id }, 'environment packages not installed');
    }
    await this.deps.setup.apply(
      tenant,
      record.workspaceId,
      record.agent,
      packages.environment,
      record.vault_ids,
    );
    const state = failure ? 'failed' : 'installed';
    packages.state = state;
    await this.locked(record.id, async () => {
      const current = await this.record(tenant, record.id);
      if (current.packages) current.packages.state = state;
      const after = failure
        ? ((await this.deps.catalog.getConversation(tenant, current.conversationId)).runs.at(-1)
            ?.id ?? null)
        : null;
      const error: SessionEvent | null = failure
        ? {
            id: newResourceId('event', this.clock()),
            type: 'session.error',
            processed_at: this.now(),
            error: {
              type: 'unknown_error',
              message: `${failure.code}: ${failure.message}`,
              retry_status: { type: 'exhausted' },
            },
          }
        : null;
      if (error) current.inbox.push({ event: error, runId: null, after });
      await this.save(tenant, current);
      if (error) void this.publish(record.id, error);
    });
  }

  /**
   * Publishes a run's events, translated, until its terminal event (or `signal` aborts); events
   * whose id is in `skip` are translated but not published again.
   */
  private async follow(
    tenant: string,
    record: SessionRecord,
    runId: string,
    startedAt: string,
    options: { skip?: ReadonlySet<string>; signal?: AbortSignal } = {},
  ): Promise<void> {
    const { catalog, events } = this.deps;
    const translator = new RunTranslator({
      runId,
      startedAt,
      endedAt: () => this.now(),
      permissionOf: policyOf(record.agent),
    });
    const pump = this.pumps.get(record.id);
    const finished: FinishedRunSource = {
      isFinished: async () => {
        const c = await catalog.getConversation(tenant, record.conversationId);
        return c.runs.find((r) => r.id === runId)?.status !== 'running';
      },
      readPersisted: async () =>
        catalog.readRunEvents(await catalog.getConversation(tenant, record.conversationId), runId),
    };
    const signal = options.signal ?? new AbortController().signal;
    for await (const batch of events.follow(runId, 0, signal, finished)) {
      for (const e of batch)
        for (const out of translator.push(parsed(e))) {
          if (pump && out.type === 'session.status_idle')
            pump.waiting =
              (out.stop_reason as { type?: string } | undefined)?.type === 'requires_action';
          if (pump && out.type === 'session.status_running') pump.waiting = false;
          if (!options.skip?.has(out.id)) void this.publish(record.id, out);
        }
    }
  }

  private async refused(
    tenant: string,
    id: string,
    waiting: InboxEntry[],
    err: unknown,
  ): Promise<void> {
    const message =
      err instanceof Error && statusOf(err) < 500 ? err.message : 'the turn could not start';
    await this.locked(id, async () => {
      const record = await this.record(tenant, id);
      const conversation = await this.deps.catalog.getConversation(tenant, record.conversationId);
      const after = conversation.runs.at(-1)?.id ?? null;
      const at = this.now();
      const failed: SessionEvent[] = [
        {
          id: newResourceId('event', this.clock()),
          type: 'session.error',
          processed_at: at,
          error: { type: 'unknown_error', message, retry_status: { type: 'terminal' } },
        },
        {
          id: newResourceId('event', this.clock()),
          type: 'session.status_idle',
          processed_at: at,
          stop_reason: { type: 'retries_exhausted' },
          stop_details: null,
        },
      ];
      for (const entry of record.inbox)
        if (waiting.some((w) => w.event.id === entry.event.id)) {
          entry.after = after;
          entry.event.processed_at = at;
        }
      for (const event of failed) record.inbox.push({ event, runId: null, after });
      await this.save(tenant, record);
      for (const event of failed) void this.publish(id, event);
    });
  }

  /** The run's events translated (from the live buffer while it runs, else its durable log). */
  private async runEvents(
    record: SessionRecord,
    conversation: ConversationRecord,
    run: RunRecord,
  ): Promise<SessionEvent[]> {
    const { catalog, events } = this.deps;
    let stored =
      run.status === 'running' || events.isLive(run.id)
        ? await events.read(run.id, 0)
        : await catalog.readRunEvents(conversation, run.id);
    if (stored.length === 0) stored = await events.read(run.id, 0).catch(() => []);
    const translator = new RunTranslator({
      runId: run.id,
      startedAt: run.startedAt,
      endedAt: () => run.endedAt ?? run.startedAt,
      permissionOf: policyOf(record.agent),
    });
    return stored.flatMap((e) => translator.push(parsed(e)));
  }

  /** The whole history of the session, in order. */
  async history(tenant: string, id: string): Promise<SessionEvent[]> {
    const record = await this.record(tenant, id);
    const conversation = await this.deps.catalog.getConversation(tenant, record.conversationId);
    const standalone = (after: string | null): SessionEvent[] =>
      record.inbox.filter((e) => e.runId === null && e.after === after).map((e) => e.event);
    const out: SessionEvent[] = [...standalone(null)];
    for (const run of conversation.runs) {
      const own = record.inbox.filter((e) => e.runId === run.id);
      const translated = await this.runEvents(record, conversation, run);
      let cut = translated.length;
      while (cut > 0 && TERMINAL_TYPES.has(translated[cut - 1]?.type ?? '')) cut -= 1;
      const body = translated.slice(0, cut);
      const inBody = new Set(body.map((e) => e.id));
      const answers = own.filter((e) => e.event.type !== 'user.message');
      out.push(...own.filter((e) => e.event.type === 'user.message').map((e) => e.event));
      for (const e of body)
        out.push(e, ...answers.filter((a) => a.anchor === e.id).map((a) => a.event));
      out.push(
        ...answers.filter((a) => !a.anchor || !inBody.has(a.anchor)).map((a) => a.event),
        ...translated.slice(cut),
        ...standalone(run.id),
      );
    }
    out.push(
      ...record.inbox.filter((e) => e.runId === null && e.after === undefined).map((e) => e.event),
    );
    return out;
  }
}
