import { WorkcellError, type ErrorBody, type MessageContent } from '@workcell/protocol';
import type { MessageAgentSettings } from '../agent-settings/index.js';
import type { Logger } from 'pino';
import type { Principal } from '../auth/tokens.js';
import type { Catalog, ConversationRecord, RunRecord } from '../catalog/catalog.js';
import { newId } from '../catalog/catalog.js';
import type { AcquiredContainer, Orchestrator } from '../containers/orchestrator.js';
import type { BufferedEvent, StateStore } from '../state/state-store.js';
import type { RunEventLog } from './run-events.js';
import {
  settlesWithin,
  step,
  StepFailure,
  stoppedOutcome,
  type Outcome,
  type StopReason,
} from './run-outcome.js';
import { checkContentSize, type AgentResolver, type RunInput } from './run-input.js';
import type { WorkspaceSync } from './workspace-sync.js';

export interface ExecuteSettings {
  runTimeoutMs: number;
  maxPromptBytes: number;
  /** The decoded bytes of a message's images, in all (default 5 MiB). */
  maxImageBytes?: number;
  /** How long a run lease lives without renewal (a crashed host's lease expires after this). */
  leaseTtlMs: number;
  /** How long a finished run's events stay in the StateStore buffer. */
  eventBufferTtlMs: number;
  /** How long a stopped run (interrupt, timeout, shutdown) may take to end before its agent connection is cut. */
  interruptGraceMs?: number;
  /** How long an agent whose connection was cut may stay busy before its container is retired. */
  agentSettleMs?: number;
}

/** What the execute service reports for metrics. */
export interface RunObserver {
  containerAcquired(source: AcquiredContainer['source'], durationMs: number): void;
  /** `outcome` is `completed`, `interrupted` or the `run.failed` code. */
  runEnded(outcome: string, durationMs: number): void;
}

interface ActiveRun {
  runId: string;
  workspaceId: string;
  container: AcquiredContainer | null;
  /** Set once the agent has accepted the run: an interrupt can reach it from then on. */
  agentStarted: boolean;
  stopReason: StopReason | null;
  /** Cuts the agent connection (a stop the agent did not honour in time). */
  readonly abort: AbortController;
  escalation: NodeJS.Timeout | null;
  done: Promise<void>;
}

export const runLeaseName = (workspaceId: string): string => `run:${workspaceId}`;

const DEFAULT_INTERRUPT_GRACE_MS = 5_000;
const DEFAULT_SETTLE_MS = 5_000;

/**
 * One message of a conversation, as one pipeline: authorise, take the workspace's run lease,
 * acquire a container, sync in, run on the agent socket while relaying and recording events,
 * sync out, release. Each step's failure is one error code in the run's `run.failed` event:
 *
 * | step                      | code                                                        |
 * |---------------------------|-------------------------------------------------------------|
 * | acquire a container       | `container_start_failed`                                    |
 * | sync in                   | `sync_failed` (the container is retired: its slot is suspect) |
 * | mark the container running| `container_failed`                                          |
 * | run on the agent          | the agent's code (`sdk_error`, `session_lost`, ...), `agent_unavailable` when its socket fails, `container_failed` when its stream breaks |
 * | sync out                  | `sync_failed` (the container is kept: its files are not yet saved) |
 * | interrupt / timeout / shutdown | `run.completed` interrupted / `run_timeout` / `shutting_down` |
 *
 * Every path releases the lease, returns the container (idle) or removes it, and ends the
 * run's event log with exactly one terminal event, published only after the run is recorded
 * and the lease released, so a client that sees it can send the next message at once.
 */
export class ExecuteService {
  private readonly active = new Map<string, ActiveRun>();
  private accepting = true;

  constructor(
    private readonly deps: {
      catalog: Catalog;
      orchestrator: Orchestrator;
      state: StateStore;
      events: RunEventLog;
      sync: WorkspaceSync;
      settings: ExecuteSettings;
      logger: Logger;
      observer?: RunObserver;
      /** Resolves each run's agent settings; without it runs use the agent's defaults. */
      agentSettings?: AgentResolver;
    },
  ) {}

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
    await Promise.all([...this.active.values()].map((r) => r.done.catch(() => undefined)));
  }

  /**
   * Graceful shutdown: no new runs; runs in progress get until `deadlineMs` to finish; any
   * still going are then stopped (they end `shutting_down`, their files synced out) and
   * waited for a little longer. Answers how many runs had to be stopped.
   */
  async shutdown(deadlineMs: number): Promise<number> {
    this.stopAccepting();
    if (await settlesWithin(this.drain(), deadlineMs)) return 0;
    const stopped = [...this.active.values()];
    this.deps.logger.warn(
      { runs: stopped.map((r) => r.runId) },
      'shutdown deadline passed; stopping the runs still in progress',
    );
    for (const run of stopped) this.stop(run, 'shutdown');
    await settlesWithin(
      this.drain(),
      this.interruptGraceMs + (this.deps.settings.agentSettleMs ?? DEFAULT_SETTLE_MS) + 10_000,
    );
    return stopped.length;
  }

  /** Is a run in progress in the workspace (on any host)? */
  async isBusy(workspaceId: string): Promise<boolean> {
    return (await this.deps.state.getLeaseHolder(runLeaseName(workspaceId))) !== null;
  }

  /**
   * Starts a run for `content` on the conversation, with `agent` over the workspace's agent
   * settings. Answers once the run is accepted (lease held, run recorded, `run.started` and
   * `user.message` logged); the run goes on in the background whether or not anyone listens.
   * Settings the operator does not allow are refused before anything changes.
   */
  async start(
    principal: Principal,
    conversationId: string,
    content: MessageContent,
    agent?: MessageAgentSettings,
  ): Promise<{ runId: string; conversation: ConversationRecord }> {
    const { catalog, state, events, settings } = this.deps;
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
    const lease = runLeaseName(conversation.workspaceId);
    if (!(await state.acquireLease(lease, runId, settings.leaseTtlMs))) {
      throw new WorkcellError('workspace_busy', 'a run is already in progress in this workspace');
    }
    let recorded: ConversationRecord;
    try {
      const run: RunRecord = {
        id: runId,
        conversationId,
        status: 'running',
        startedAt: new Date().toISOString(),
        endedAt: null,
        interrupted: false,
        error: null,
        summary: null,
        eventCount: 0,
      };
      // A run shown running before the lease was taken may have ended since: decide on a fresh read.
      const orphans = conversation.runs.some((r) => r.status === 'running')
        ? await this.closeOrphans(await catalog.getConversation(principal.tenant, conversationId))
        : new Map<string, Partial<RunRecord>>();
      recorded = await catalog.updateConversation(conversation, (c) => {
        for (const r of c.runs) {
          const lost = orphans.get(r.id);
          if (r.status === 'running' && lost) Object.assign(r, lost);
        }
        c.runs.push(run);
      });
    } catch (err) {
      await state.releaseLease(lease, runId).catch(() => false);
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
    const active: ActiveRun = {
      runId,
      workspaceId: conversation.workspaceId,
      container: null,
      agentStarted: false,
      stopReason: null,
      abort: new AbortController(),
      escalation: null,
      done: Promise.resolve(),
    };
    this.active.set(runId, active);
    const input: RunInput = { prompt: content, options: resolved?.options };
    active.done = this.execute(active, recorded, input)
      .catch((err: unknown) =>
        this.deps.logger.error({ runId, err: String(err) }, 'run pipeline failed'),
      )
      .finally(() => this.active.delete(runId));
    return { runId, conversation: recorded };
  }

  /**
   * Runs of the conversation still marked running while this caller holds the workspace's
   * lease cannot be in progress: their host stopped before recording the end. Each gets its
   * durable log (what the buffer still has, then `run.failed`) and answers the record changes
   * that close it.
   */
  private async closeOrphans(
    conversation: ConversationRecord,
  ): Promise<Map<string, Partial<RunRecord>>> {
    const closed = new Map<string, Partial<RunRecord>>();
    for (const run of conversation.runs) {
      if (run.status !== 'running') continue;
      const buffered = await this.deps.events.read(run.id, 0).catch(() => []);
      const error: ErrorBody = {
        code: 'internal',
        message: 'the host running this run stopped before it ended',
      };
      const all = [
        ...buffered,
        { seq: buffered.length + 1, event: 'run.failed', data: JSON.stringify(error) },
      ];
      await this.deps.catalog.writeRunEvents(
        conversation,
        run.id,
        all.map((e) => JSON.stringify(e)).join('\n') + '\n',
      );
      closed.set(run.id, {
        status: 'failed',
        endedAt: new Date().toISOString(),
        error,
        eventCount: all.length,
      });
      this.deps.logger.warn(
        { runId: run.id, conversationId: conversation.id },
        'closed a run whose host stopped before it ended',
      );
    }
    return closed;
  }

  /**
   * Interrupts a run of the caller's conversation. `not_found` for another tenant's ids;
   * `conflict` when the run has ended or runs on another host.
   */
  async interrupt(principal: Principal, conversationId: string, runId: string): Promise<void> {
    const conversation = await this.deps.catalog.getConversation(principal.tenant, conversationId);
    const record = this.deps.catalog.getRun(conversation, runId);
    const active = this.active.get(runId);
    if (!active) {
      throw new WorkcellError(
        'conflict',
        record.status === 'running'
          ? 'the run is in progress on another host; interrupt it there'
          : 'the run is not in progress',
      );
    }
    this.stop(active, 'interrupt');
  }

  private get interruptGraceMs(): number {
    return this.deps.settings.interruptGraceMs ?? DEFAULT_INTERRUPT_GRACE_MS;
  }

  /**
   * Asks a run to stop: the agent's `interrupt()` when the agent has the run (else the run
   * loop does it as soon as the agent accepts it, or skips running), and after a grace period
   * the agent connection is cut, which aborts the SDK turn. The first reason wins.
   */
  private stop(active: ActiveRun, reason: StopReason): void {
    if (active.stopReason) return;
    active.stopReason = reason;
    this.deps.logger.info({ runId: active.runId, reason }, 'stopping run');
    if (active.agentStarted) this.interruptAgent(active);
    active.escalation = setTimeout(() => {
      if (!active.container) return;
      this.deps.logger.warn(
        { runId: active.runId, reason },
        'the agent did not stop in time; cutting its connection',
      );
      active.abort.abort();
    }, this.interruptGraceMs);
  }

  private interruptAgent(active: ActiveRun): void {
    active.container?.agent.interrupt(active.runId).catch((err: unknown) => {
      this.deps.logger.warn({ runId: active.runId, err: String(err) }, 'agent interrupt failed');
    });
  }

  private async execute(
    active: ActiveRun,
    conversation: ConversationRecord,
    input: RunInput,
  ): Promise<void> {
    const { settings } = this.deps;
    const { runId, workspaceId } = active;
    const log = this.deps.logger.child({ runId, workspaceId, conversationId: conversation.id });
    const startedAt = Date.now();
    const lease = runLeaseName(workspaceId);
    let renewing: Promise<void> = Promise.resolve();
    const renew = setInterval(
      () => {
        renewing = this.renewLease(lease, runId, log);
      },
      Math.max(1000, Math.floor(settings.leaseTtlMs / 3)),
    );
    const timeout = setTimeout(() => {
      log.warn({ timeoutMs: settings.runTimeoutMs }, 'run timed out');
      this.stop(active, 'timeout');
    }, settings.runTimeoutMs);

    let outcome: Outcome;
    let sessionId = conversation.sessionId;
    try {
      const result = await this.pipeline(active, conversation, input, log);
      outcome = result.outcome;
      sessionId = result.sessionId ?? sessionId;
    } finally {
      clearInterval(renew);
      clearTimeout(timeout);
      if (active.escalation) clearTimeout(active.escalation);
    }

    // A renewal still in flight could take the lease again after `finish` releases it.
    await renewing;
    const label =
      'summary' in outcome
        ? outcome.summary.interrupted
          ? 'interrupted'
          : 'completed'
        : outcome.error.code;
    // Counted before the terminal event goes out, so a client that saw it also sees the metric.
    this.deps.observer?.runEnded(label, Date.now() - startedAt);
    await this.finish(active, conversation, outcome, sessionId, log);
    log.info({ outcome: label, durationMs: Date.now() - startedAt }, 'run ended');
  }

  /** Acquire, sync in, run, sync out, return the container; answers the outcome. Never throws. */
  private async pipeline(
    active: ActiveRun,
    conversation: ConversationRecord,
    input: RunInput,
    log: Logger,
  ): Promise<{ outcome: Outcome; sessionId: string | null }> {
    const { orchestrator, sync } = this.deps;
    const { runId, workspaceId } = active;
    const tenant = conversation.tenant;
    let container: AcquiredContainer | null = null;
    let began = false;
    let sessionId: string | null = null;
    let outcome: Outcome;
    let keepContainer = true;
    try {
      const acquired = await step('container_start_failed', 'acquiring a container', () =>
        orchestrator.acquire(tenant, workspaceId),
      );
      container = acquired;
      active.container = acquired;
      this.deps.observer?.containerAcquired(acquired.source, acquired.acquireMs);
      log.info(
        { containerId: acquired.record.id, source: acquired.source, acquireMs: acquired.acquireMs },
        'container acquired',
      );

      try {
        await step('sync_failed', 'syncing files in', () =>
          sync.syncIn(tenant, workspaceId, acquired.slot),
        );
      } catch (err) {
        // A half-written slot cannot be trusted for the next run.
        keepContainer = false;
        throw err;
      }
      began = await step('container_failed', 'marking the container running', () =>
        orchestrator.beginRun(acquired.record.id, runId),
      );
      if (!began)
        throw new StepFailure({
          code: 'container_failed',
          message: 'the container is not available for a run',
        });

      if (active.stopReason) {
        outcome = stoppedOutcome(
          active.stopReason,
          null,
          conversation.sessionId,
          this.deps.settings.runTimeoutMs,
        );
      } else {
        const ran = await this.runOnAgent(active, acquired, conversation, input, log);
        outcome = ran.outcome;
        sessionId = ran.sessionId;
        keepContainer = ran.healthy;
      }
    } catch (err) {
      outcome = {
        error: err instanceof StepFailure ? err.body : { code: 'internal', message: String(err) },
      };
      log.error(
        {
          code: outcome.error.code,
          err: outcome.error.message,
          containerId: container?.record.id ?? null,
        },
        'run step failed',
      );
    }

    if (container && began) {
      try {
        await step('sync_failed', 'syncing files out', () =>
          sync.syncOut(tenant, workspaceId, container.slot),
        );
      } catch (err) {
        const body = (err as StepFailure).body;
        log.error(
          { err: body.message, containerId: container.record.id },
          'sync out failed; the container keeps the files',
        );
        if (!('error' in outcome)) outcome = { error: body };
        // The slot holds the only copy of what the run changed: keep it for the next sync.
        keepContainer = true;
      }
    }
    if (container) await this.returnContainer(container, began, keepContainer, log);
    return { outcome, sessionId };
  }

  /** Streams the run from the agent into the event log; answers its outcome. */
  private async runOnAgent(
    active: ActiveRun,
    container: AcquiredContainer,
    conversation: ConversationRecord,
    input: RunInput,
    log: Logger,
  ): Promise<{ outcome: Outcome; sessionId: string | null; healthy: boolean }> {
    const { runId } = active;
    let sessionId: string | null = null;
    let outcome: Outcome | null = null;
    let healthy = true;
    try {
      const stream = container.agent.run(
        {
          runId,
          prompt: input.prompt,
          ...(conversation.sessionId ? { resumeSessionId: conversation.sessionId } : {}),
          ...(input.options ? { options: input.options } : {}),
        },
        active.abort.signal,
      );
      for await (const event of stream) {
        switch (event.type) {
          case 'run.started':
            active.agentStarted = true;
            if (active.stopReason) this.interruptAgent(active);
            break;
          case 'sdk': {
            const m = event.message;
            if (m.type === 'system' && m.subtype === 'init' && typeof m.session_id === 'string')
              sessionId = m.session_id;
            this.deps.events.append(runId, 'message', m);
            break;
          }
          case 'run.completed':
            if (event.summary.sessionId) sessionId = event.summary.sessionId;
            outcome = {
              summary: {
                ...event.summary,
                interrupted: event.summary.interrupted || active.stopReason === 'interrupt',
              },
            };
            break;
          case 'run.failed':
            outcome = { error: event.error };
            break;
        }
      }
    } catch (err) {
      if (!active.abort.signal.aborted) {
        const body: ErrorBody =
          err instanceof WorkcellError && err.code.startsWith('agent_')
            ? err.toBody()
            : {
                code: 'agent_unavailable',
                message: err instanceof Error ? err.message : String(err),
              };
        log.error({ err: body.message, code: body.code }, 'agent connection failed');
        return { outcome: { error: body }, sessionId, healthy: false };
      }
    }

    if (active.abort.signal.aborted) {
      // The connection was cut: the agent aborts the SDK turn; make sure it has let go.
      healthy = await this.settles(container);
    } else if (!outcome) {
      return {
        outcome: {
          error: {
            code: 'container_failed',
            message: 'the agent stopped before the run ended (the container may have been killed)',
          },
        },
        sessionId,
        healthy: false,
      };
    }
    if (active.stopReason) {
      const summary = outcome && 'summary' in outcome ? outcome.summary : null;
      return {
        outcome: stoppedOutcome(
          active.stopReason,
          summary,
          sessionId ?? conversation.sessionId,
          this.deps.settings.runTimeoutMs,
        ),
        sessionId,
        healthy,
      };
    }
    return {
      outcome: outcome ?? {
        error: { code: 'container_failed', message: 'the agent stopped before the run ended' },
      },
      sessionId,
      healthy,
    };
  }

  /** Waits for an agent whose connection was cut to be idle again; false when it stays busy. */
  private async settles(container: AcquiredContainer): Promise<boolean> {
    const deadline = Date.now() + (this.deps.settings.agentSettleMs ?? DEFAULT_SETTLE_MS);
    while (Date.now() < deadline) {
      const health = await container.agent.health(1000).catch(() => null);
      if (!health) return false;
      if (!health.busy) return true;
      await new Promise((r) => setTimeout(r, 100));
    }
    return false;
  }

  /** The container goes back to the workspace (idle) or, when it cannot be trusted, is removed. */
  private async returnContainer(
    container: AcquiredContainer,
    began: boolean,
    keep: boolean,
    log: Logger,
  ): Promise<void> {
    const { orchestrator } = this.deps;
    const id = container.record.id;
    try {
      if (keep) {
        if (began) await orchestrator.endRun(id);
      } else {
        await orchestrator.remove(id, 'failed during a run');
      }
    } catch (err) {
      log.error({ containerId: id, err: String(err) }, 'returning the container failed');
      await orchestrator.markFailed(id, 'could not be returned after a run').catch(() => undefined);
    }
  }

  /**
   * Ends the run's log: persists every event and the outcome to the catalog and releases the
   * lease, then publishes the terminal event.
   */
  private async finish(
    active: ActiveRun,
    conversation: ConversationRecord,
    outcome: Outcome,
    sessionId: string | null,
    log: Logger,
  ): Promise<void> {
    const { catalog, events, state, settings } = this.deps;
    const { runId } = active;
    const endedAt = new Date().toISOString();
    const [name, data] =
      'summary' in outcome
        ? (['run.completed', { runId, ...outcome.summary }] as const)
        : (['run.failed', outcome.error] as const);
    const record = async (all: readonly BufferedEvent[]): Promise<void> => {
      try {
        await catalog.writeRunEvents(
          conversation,
          runId,
          all.map((e) => JSON.stringify(e)).join('\n') + '\n',
        );
        await catalog.updateConversation(conversation, (c) => {
          if (sessionId) c.sessionId = sessionId;
          // The client has been told (`session_lost`); its next message starts a new session
          // rather than failing the same way for ever.
          if ('error' in outcome && outcome.error.code === 'session_lost') c.sessionId = null;
          const run = c.runs.find((r) => r.id === runId);
          if (!run) return;
          run.endedAt = endedAt;
          run.eventCount = all.length;
          if ('summary' in outcome) {
            run.status = 'completed';
            run.summary = outcome.summary;
            run.interrupted = outcome.summary.interrupted;
          } else {
            run.status = 'failed';
            run.error = outcome.error;
          }
        });
      } finally {
        await state.releaseLease(runLeaseName(active.workspaceId), runId).catch((err: unknown) => {
          log.error({ err: String(err) }, 'releasing the run lease failed; it expires by itself');
        });
      }
    };
    try {
      await events.end(runId, name, data, record);
    } catch (err) {
      log.error({ err: String(err) }, 'recording the end of the run failed');
    }
    await events.expire(runId, settings.eventBufferTtlMs).catch((err: unknown) => {
      log.warn({ err: String(err) }, 'could not set the expiry of the run buffer');
    });
  }

  private async renewLease(lease: string, runId: string, log: Logger): Promise<void> {
    const { state, settings } = this.deps;
    try {
      if (await state.renewLease(lease, runId, settings.leaseTtlMs)) return;
      // The lease is gone (the state store restarted empty): take it again if it is free.
      if (!(await state.acquireLease(lease, runId, settings.leaseTtlMs)))
        log.error('the run lease is held by someone else');
    } catch (err) {
      log.warn({ err: String(err) }, 'lease renewal failed');
    }
  }
}
