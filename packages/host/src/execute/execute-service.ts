import { WorkcellError, isTerminalRunEvent, type MessageContent } from '@workcell/protocol';
import type { MessageAgentSettings } from '../agent-settings/index.js';
import { loggedItems, waitedMs } from '../approvals/carried-on.js';
import type { Logger } from 'pino';
import type { Principal } from '../auth/tokens.js';
import type { Catalog, ConversationRecord, RunRecord } from '../catalog/catalog.js';
import { newId } from '../catalog/catalog.js';
import { LEASES, takeLease, type HeldLease } from '../state/leases.js';
import type { StateStore } from '../state/state-store.js';
import { settlesWithin, systemClock, type Clock, type Timer } from '../time/clock.js';
import type { RunAttachment } from '../state/state-store.js';
import type { Workspaces } from '../workspace/hold.js';
import { closeOrphanedRuns } from './orphans.js';
import { Run, type ResumedRun, type RunDeps, type RunObserver } from './run.js';
import type { RunEventLog } from './run-events.js';
import {
  checkContentSize,
  recordableInput,
  type AgentResolver,
  type RunInput,
} from './run-input.js';

export type { RunObserver } from './run.js';
export { workspaceLockName } from '../state/leases.js';

export interface ExecuteSettings {
  runTimeoutMs: number;
  maxPromptBytes: number;
  /** The decoded bytes of a message's images, in all (default 5 MiB). */
  maxImageBytes?: number;
  /** How long a finished run's events stay in the StateStore buffer. */
  eventBufferTtlMs: number;
  /** How long a stopped run (interrupt, timeout, shutdown) may take to end before its agent connection is cut. */
  interruptGraceMs?: number;
  /** How long an agent whose connection was cut may stay busy before its container is retired. */
  agentSettleMs?: number;
  /**
   * Whether a stopping host hands the runs the agent has accepted over to the next host (they
   * go on in their containers) instead of waiting for them: only with a state store other
   * hosts, or this host restarted, share (Redis).
   */
  handOverRuns?: boolean;
  /**
   * How long a run whose container this host cannot reach (it is in another data directory) must
   * stay without a host before this host takes it on, only to end it `host_lost`: a host of that
   * data directory, restarted, carries it on meanwhile (default 2 minutes).
   */
  foreignRunGraceMs?: number;
}

/** `ExecuteSettings.foreignRunGraceMs` by default. */
export const DEFAULT_FOREIGN_RUN_GRACE_MS = 120_000;

/** What the API asks of the execute service. */
export interface RunService {
  /**
   * Starts a run for `content` on the conversation, with one message's `agent` overrides;
   * answers once it is accepted.
   */
  start(
    principal: Principal,
    conversationId: string,
    content: MessageContent,
    agent?: MessageAgentSettings,
  ): Promise<{ runId: string; conversation: ConversationRecord }>;
  /** Interrupts a run of the caller's conversation in progress, on this host or another. */
  interrupt(principal: Principal, conversationId: string, runId: string): Promise<void>;
  /** Is a run in progress in the workspace (on any host)? */
  isBusy(workspaceId: string): Promise<boolean>;
  readonly activeRuns: number;
  readonly isAccepting: boolean;
}

const DEFAULT_INTERRUPT_GRACE_MS = 5_000;
const DEFAULT_SETTLE_MS = 5_000;
/** How long stopped runs get, beyond their grace and settle times, to end at shutdown. */
const STOP_MARGIN_MS = 10_000;

/**
 * Admits messages and keeps track of the runs in progress on this host. One message of a
 * conversation is one `Run` (`run.ts`): authorise, hold the workspace (`workspace/hold.ts`:
 * admission, the workspace lock, acquire a container, sync in), run on the agent socket while
 * relaying and recording events, sync out, release. Each step's failure is one error code in
 * the run's `run.failed` event (the workspace steps as in `workspace/README.md`):
 *
 * | step                      | code                                                        |
 * |---------------------------|-------------------------------------------------------------|
 * | acquire a container       | `container_start_failed`                                    |
 * | sync in                   | `sync_failed` (the container is retired: its slot is suspect) |
 * | mark the container running| `container_failed`                                          |
 * | run on the agent          | the agent's code (`sdk_error`, `session_lost`, ...), `agent_unavailable` when its socket fails, `container_failed` when its stream breaks (`agent-stream.ts`) |
 * | sync out                  | `sync_failed` (the container is kept: its files are not yet saved) |
 * | interrupt / timeout / shutdown | `run.completed` interrupted / `run_timeout` / `shutting_down` |
 *
 * Every path releases the workspace lock, returns the container (idle) or removes it, and ends the
 * run's event log with exactly one terminal event, published only after the run is recorded
 * and the lock released, so a client that sees it can send the next message at once.
 */
export class ExecuteService implements RunService {
  private readonly active = new Map<string, { run: Run; done: Promise<void> }>();
  private adopter: Timer | null = null;
  private adopting: Promise<void> | null = null;
  private accepting = true;
  private readonly runDeps: RunDeps;
  private readonly clock: Clock;
  /** Runs this host is accepting (recorded in progress, not yet launched): never adopted here. */
  private readonly starting = new Set<string>();
  /** Runs without a host whose container this host cannot reach: when each was first seen so. */
  private readonly foreignSince = new Map<string, number>();

  constructor(
    private readonly deps: {
      catalog: Catalog;
      /** Holds a run's workspace: admission, the lock, the container, sync in and out. */
      workspaces: Workspaces;
      state: StateStore;
      events: RunEventLog;
      settings: ExecuteSettings;
      logger: Logger;
      clock?: Clock;
      observer?: RunObserver;
      /** Extra environment for a run: the workspace's secret placeholders. */
      runEnv?: RunDeps['runEnv'];
      /** Where run ends go out as webhooks. */
      webhooks?: RunDeps['webhooks'];
      /** The runs' approvals and client tool calls. */
      approvals?: RunDeps['approvals'];
      /** Resolves each run's agent settings; without it runs use the agent's defaults. */
      agentSettings?: AgentResolver;
      /** Reaches the host that runs a run this host does not (see `control/`). */
      remote?: { interrupt(runId: string): Promise<void> };
      /** This host's id: the holder of the attach lease of the runs it is attached to. */
      hostId?: string;
      /** How runs' records and logs wait for a store that went away. */
      storeRetry?: RunDeps['storeRetry'];
      /**
       * Whether this host reaches a container (its slot is in this host's data directory, or
       * the container is gone); without it every container counts as reachable.
       */
      reaches?: (containerId: string) => Promise<boolean>;
    },
  ) {
    this.clock = deps.clock ?? systemClock;
    const { settings } = deps;
    this.runDeps = {
      catalog: deps.catalog,
      events: deps.events,
      clock: this.clock,
      logger: deps.logger,
      ...(deps.observer ? { observer: deps.observer } : {}),
      ...(deps.runEnv ? { runEnv: deps.runEnv } : {}),
      ...(deps.webhooks ? { webhooks: deps.webhooks } : {}),
      attachments: deps.state,
      ...(deps.approvals ? { approvals: deps.approvals } : {}),
      ...(deps.storeRetry ? { storeRetry: deps.storeRetry } : {}),
      settings: {
        runTimeoutMs: settings.runTimeoutMs,
        eventBufferTtlMs: settings.eventBufferTtlMs,
        interruptGraceMs: settings.interruptGraceMs ?? DEFAULT_INTERRUPT_GRACE_MS,
        agentSettleMs: settings.agentSettleMs ?? DEFAULT_SETTLE_MS,
      },
    };
  }

  /** Runs in progress on this host. */
  get activeRuns(): number {
    return this.active.size;
  }

  /** False once shutdown has begun. */
  get isAccepting(): boolean {
    return this.accepting;
  }

  /** Stops accepting new runs (shutdown); runs in progress go on. */
  stopAccepting(): void {
    this.accepting = false;
  }

  /** Resolves when every run in progress on this host has ended. */
  async drain(): Promise<void> {
    // `done` never rejects: a run's failure is its outcome, and the pipeline's own failure is logged in `start`.
    await Promise.all([...this.active.values()].map((r) => r.done));
  }

  /**
   * Graceful shutdown: no new runs; with `handOverRuns`, the runs the agent has accepted are
   * handed over at once (they go on in their containers, for the next host to carry on); the
   * others get until `deadlineMs` to finish; any still going are then stopped (they end
   * `shutting_down`, their files synced out) and waited for a little longer. Answers how many
   * runs had to be stopped.
   */
  async shutdown(deadlineMs: number): Promise<number> {
    this.stopAccepting();
    this.adopter?.cancel();
    await this.adopting;
    // Runs the agent has accepted are handed over at once: they go on in their containers.
    const handed = this.deps.settings.handOverRuns
      ? [...this.active.values()].filter((r) => r.run.handOver())
      : [];
    if (handed.length > 0) {
      this.deps.logger.info(
        { runs: handed.map((r) => r.run.runId) },
        'handing runs over to the next host',
      );
      await Promise.all(handed.map((r) => r.done));
    }
    if (await settlesWithin(this.clock, this.drain(), deadlineMs)) return 0;
    const stopped = [...this.active.values()].map((r) => r.run);
    this.deps.logger.warn(
      { runs: stopped.map((r) => r.runId) },
      'shutdown deadline passed; stopping the runs still in progress',
    );
    for (const run of stopped) run.stop('shutdown');
    const { interruptGraceMs, agentSettleMs } = this.runDeps.settings;
    await settlesWithin(
      this.clock,
      this.drain(),
      interruptGraceMs + agentSettleMs + STOP_MARGIN_MS,
    );
    return stopped.length;
  }

  async isBusy(workspaceId: string): Promise<boolean> {
    return (await this.deps.state.getLeaseHolder(LEASES.workspace(workspaceId))) !== null;
  }

  /**
   * Starts a run for `content` on the conversation, with `agent` over the workspace's agent
   * settings. Answers once the run is accepted (workspace lock held, run recorded, `run.started` and
   * `user.message` logged); the run goes on in the background whether or not anyone listens.
   * Settings the operator does not allow are refused before anything changes.
   */
  async start(
    principal: Principal,
    conversationId: string,
    content: MessageContent,
    agent?: MessageAgentSettings,
  ): Promise<{ runId: string; conversation: ConversationRecord }> {
    const { catalog, events, settings } = this.deps;
    if (!this.accepting)
      throw new WorkcellError('shutting_down', 'the host is shutting down; retry on another host');
    checkContentSize(content, {
      maxPromptBytes: settings.maxPromptBytes,
      maxImageBytes: settings.maxImageBytes ?? 5 * 1024 * 1024,
    });
    const conversation = await catalog.getConversation(principal.tenant, conversationId);
    const resolved = await this.deps.agentSettings?.resolve(
      conversation.tenant,
      conversation.workspaceId,
      agent,
    );
    const runId = newId('run');
    const hold = await this.deps.workspaces.take(conversation.workspaceId, runId, {
      retake: true,
    });
    if (!hold)
      throw new WorkcellError('workspace_busy', 'a run is already in progress in this workspace');
    let recorded: ConversationRecord;
    try {
      recorded = await this.record(principal, conversation, runId);
    } catch (err) {
      await hold.release();
      throw err;
    }
    events.open(runId);
    events.append(runId, 'run.started', {
      runId,
      conversationId,
      workspaceId: conversation.workspaceId,
      agent: resolved?.view ?? {},
    });
    events.append(runId, 'user.message', { content });
    const input: RunInput = { prompt: content, options: resolved?.options };
    const attached = await this.takeAttach(runId);
    // Recorded at once, with no container yet and with its input: a host that outlives this
    // one starts the run again should this host stop before it has one. Its first events are
    // in the StateStore buffer first, so that host carries the log on after them.
    this.starting.add(runId);
    const recordedInput = recordableInput(input);
    if (!recordedInput)
      this.deps.logger.warn(
        { runId },
        'the message is too large to record for another host: should this host stop before the run has a container, it ends host_lost',
      );
    await events.flushed(runId);
    await this.deps.state
      .putRunAttachment({
        runId,
        tenant: recorded.tenant,
        workspaceId: recorded.workspaceId,
        conversationId,
        containerId: '',
        startedAt: this.clock.now(),
        ...(recordedInput ? { input: recordedInput } : {}),
      })
      .catch((err: unknown) =>
        this.deps.logger.warn({ runId, err }, 'the run could not be recorded as accepted'),
      );
    this.launch(new Run(this.runDeps, runId, recorded, input, hold), attached);
    this.starting.delete(runId);
    return { runId, conversation: recorded };
  }

  private launch(run: Run, attached: HeldLease | null): void {
    const { runId } = run;
    const done = run
      .execute()
      .catch((err: unknown) => this.deps.logger.error({ runId, err }, 'run pipeline failed'))
      .finally(() => {
        this.active.delete(runId);
        void attached?.release();
      });
    this.active.set(runId, { run, done });
  }

  /** The lease that says this host is attached to `runId`; null when another host is. */
  private takeAttach(runId: string): Promise<HeldLease | null> {
    return takeLease(
      {
        state: this.deps.state,
        clock: this.clock,
        logger: this.deps.logger,
        ...(this.deps.storeRetry ? { retry: this.deps.storeRetry } : {}),
      },
      {
        name: LEASES.attach(runId),
        holder: `attach:${this.deps.hostId ?? 'local'}`,
        ttlMs: this.deps.workspaces.lockTtlMs,
      },
    );
  }

  /**
   * Carries on, every `intervalMs` (and at once), the runs whose host went away: handed over
   * at a shutdown, or left when a host crashed and its attach lease expired.
   */
  startAdopting(intervalMs = 2_000): void {
    const tick = (): void => {
      if (this.adopting || !this.accepting) return;
      this.adopting = this.adoptRuns()
        .then(() => undefined)
        .catch((err: unknown) => this.deps.logger.warn({ err }, 'adopting runs failed'))
        .finally(() => {
          this.adopting = null;
        });
    };
    tick();
    this.adopter = this.clock.every(intervalMs, tick);
  }

  /** One pass over the runs recorded in progress; answers the ids of those this host took on. */
  async adoptRuns(): Promise<string[]> {
    const taken: string[] = [];
    const recorded = await this.deps.state.listRunAttachments();
    const ids = new Set(recorded.map((a) => a.runId));
    for (const runId of this.foreignSince.keys())
      if (!ids.has(runId)) this.foreignSince.delete(runId);
    for (const a of recorded) {
      if (!this.accepting) break;
      if (this.active.has(a.runId) || this.starting.has(a.runId)) continue;
      if (await this.waitsForItsOwnHost(a)) continue;
      if (await this.adopt(a)) taken.push(a.runId);
    }
    return taken;
  }

  /**
   * True while a run this host cannot reach (its container is in another data directory) is
   * left for a host of that data directory: until it has been without a host for the grace
   * period, after which this host takes it on to end it `host_lost`.
   */
  private async waitsForItsOwnHost(a: RunAttachment): Promise<boolean> {
    if (!this.deps.reaches || (await this.deps.reaches(a.containerId))) return false;
    const holder = await this.deps.state.getLeaseHolder(LEASES.attach(a.runId));
    if (holder !== null) {
      this.foreignSince.delete(a.runId);
      return true;
    }
    const now = this.clock.now();
    const since = this.foreignSince.get(a.runId) ?? now;
    this.foreignSince.set(a.runId, since);
    const grace = this.deps.settings.foreignRunGraceMs ?? DEFAULT_FOREIGN_RUN_GRACE_MS;
    return now - since < grace;
  }

  private async adopt(a: RunAttachment): Promise<boolean> {
    const { state, catalog, events, logger } = this.deps;
    const attached = await this.takeAttach(a.runId);
    if (!attached) return false;
    const log = logger.child({ runId: a.runId, workspaceId: a.workspaceId });
    try {
      const hold = await this.deps.workspaces.take(a.workspaceId, a.runId, {
        admit: false,
        retake: true,
      });
      if (!hold) {
        // The workspace went on without the run (its orphan was closed): nothing to carry on.
        await state.deleteRunAttachment(a.runId);
        await attached.release();
        return false;
      }
      let conversation: ConversationRecord;
      let recorded: Awaited<ReturnType<RunEventLog['read']>>;
      try {
        conversation = await catalog.getConversation(a.tenant, a.conversationId);
        recorded = await events.read(a.runId, 0);
      } catch (err) {
        await hold.release();
        throw err;
      }
      const run = conversation.runs.find((r) => r.id === a.runId);
      if (run?.status !== 'running' || recorded.some((e) => isTerminalRunEvent(e.event))) {
        await state.deleteRunAttachment(a.runId);
        await hold.release();
        await attached.release();
        return false;
      }
      if (a.containerId === '') {
        // Its host stopped before the run had a container: it starts again here, after the
        // events already logged, or ends host_lost when its input was not recorded.
        if (!a.input || !recorded.some((e) => e.event === 'user.message')) {
          log.warn(
            { inputRecorded: a.input !== undefined },
            'a run whose host went away before it had a container cannot start again',
          );
          await this.closeUnbegun(conversation);
          await hold.release();
          await attached.release();
          return false;
        }
        events.reopen(a.runId, recorded);
        log.info(
          { recorded: recorded.length },
          'starting again a run whose host went away before it had a container',
        );
        const input: RunInput = { prompt: a.input.prompt, options: a.input.options };
        this.launch(new Run(this.runDeps, a.runId, conversation, input, hold), attached);
        return true;
      }
      events.reopen(a.runId, recorded);
      log.info({ recorded: recorded.length }, 'carrying on a run whose host went away');
      const items = await state.listApprovals(a.conversationId).catch((err: unknown) => {
        log.warn(
          { err },
          'the approvals of the run could not be read; its timeout counts their wait',
        );
        return [];
      });
      const resumed: ResumedRun = {
        containerId: a.containerId,
        startedAt: a.startedAt,
        recordedMessages: recorded.filter((e) => e.event === 'message').length,
        ...(a.controlToken ? { controlToken: a.controlToken } : {}),
        clientTools: a.clientTools ?? [],
        loggedItems: loggedItems(recorded),
        waitedMs: waitedMs(items, a.runId, this.clock.now()),
      };
      this.launch(
        new Run(
          this.runDeps,
          a.runId,
          conversation,
          { prompt: '', options: undefined },
          hold,
          resumed,
        ),
        attached,
      );
      return true;
    } catch (err) {
      log.warn({ err }, 'could not carry on the run');
      await attached.release();
      return false;
    }
  }

  /** Records the new run on the conversation, closing runs orphaned by a host that stopped. */
  private async record(
    principal: Principal,
    conversation: ConversationRecord,
    runId: string,
  ): Promise<ConversationRecord> {
    const { catalog } = this.deps;
    // Read again under the lock: a workspace deleted since the first read is not found, and
    // its conversation is not written back.
    const current = await catalog.getConversation(principal.tenant, conversation.id);
    const run: RunRecord = {
      id: runId,
      conversationId: conversation.id,
      status: 'running',
      startedAt: new Date(this.clock.now()).toISOString(),
      endedAt: null,
      interrupted: false,
      error: null,
      summary: null,
      eventCount: 0,
    };
    // A run shown running before the lock was taken may have ended since: decide on the fresh read.
    const orphans = current.runs.some((r) => r.status === 'running')
      ? await closeOrphanedRuns(
          {
            catalog,
            events: this.deps.events,
            clock: this.clock,
            logger: this.deps.logger,
            attachments: this.deps.state,
          },
          current,
        )
      : new Map<string, Partial<RunRecord>>();
    return catalog.updateConversation(current, (c) => {
      for (const r of c.runs) {
        const lost = orphans.get(r.id);
        if (r.status === 'running' && lost) Object.assign(r, lost);
      }
      c.runs.push(run);
    });
  }

  /**
   * Closes the runs of `conversation` whose host stopped before they had a container (this host
   * holds the workspace lock): they end `host_lost`, their log kept, so a client following one
   * reaches its end without sending another message.
   */
  private async closeUnbegun(conversation: ConversationRecord): Promise<void> {
    const { catalog } = this.deps;
    const closed = await closeOrphanedRuns(
      {
        catalog,
        events: this.deps.events,
        clock: this.clock,
        logger: this.deps.logger,
        attachments: this.deps.state,
      },
      conversation,
    );
    await catalog.updateConversation(conversation, (c) => {
      for (const r of c.runs) {
        const lost = closed.get(r.id);
        if (r.status === 'running' && lost) Object.assign(r, lost);
      }
    });
  }

  /**
   * Interrupts a run of the caller's conversation, wherever it runs: a run of another host is
   * reached through `remote`. `not_found` for another tenant's ids; `conflict` when the run is
   * not in progress (ended, or its host stopped and its lock expired).
   */
  async interrupt(principal: Principal, conversationId: string, runId: string): Promise<void> {
    const conversation = await this.deps.catalog.getConversation(principal.tenant, conversationId);
    const record = this.deps.catalog.getRun(conversation, runId);
    if (this.interruptLocal(runId)) return;
    const holder = await this.deps.state.getLeaseHolder(LEASES.workspace(conversation.workspaceId));
    if (record.status !== 'running' || holder !== runId || !this.deps.remote) {
      throw new WorkcellError('conflict', 'the run is not in progress');
    }
    await this.deps.remote.interrupt(runId);
  }

  /** Interrupts the run if this host runs it; answers whether it does. */
  interruptLocal(runId: string): boolean {
    const active = this.active.get(runId);
    if (!active) return false;
    active.run.stop('interrupt');
    return true;
  }
}
