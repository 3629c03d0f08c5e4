import type { Logger } from 'pino';
import type { ApprovalService, RunItems } from '../approvals/index.js';
import type { Catalog, ConversationRecord } from '../catalog/catalog.js';
import type { ClientTool, ReadyBasis } from '@workcell/protocol';
import type { AcquiredContainer } from '../containers/run-containers.js';
import type { BufferedEvent, RunAttachment } from '../state/state-store.js';
import type { Clock, Timer } from '../time/clock.js';
import { untilStored, type StoreRetry } from '../dependencies/retry.js';
import type { Dependency } from '../dependencies/watch.js';
import { PausableTimer } from '../time/pausable-timer.js';
import type { WebhookEvents } from '../webhooks/publisher.js';
import {
  agentRunResult,
  applyAgentEvent,
  initialAgentStream,
  type AgentRunResult,
  type StreamEnd,
} from './agent-stream.js';
import type { RunEventLog } from './run-events.js';
import type { RunInput } from './run-input.js';
import { stoppedOutcome, type Outcome, type StopReason } from './run-outcome.js';
import type { WorkspaceHold, WorkspaceObserver } from '../workspace/hold.js';
import { StepFailure } from '../workspace/step.js';

/** What one run needs; the execute service builds it once and shares it. */
export interface RunDeps {
  catalog: Catalog;
  events: RunEventLog;
  clock: Clock;
  logger: Logger;
  observer?: RunObserver;
  /** Extra environment for a run: the workspace's secret placeholders. */
  runEnv?: (tenant: string, workspaceId: string) => Promise<Record<string, string>>;
  /** Where the run's end goes out as a webhook (`run.completed`, `run.failed`). */
  webhooks?: WebhookEvents;
  /** Where a run in progress is recorded for a host that carries it on (`StateStore`). */
  attachments?: {
    putRunAttachment(a: RunAttachment): Promise<void>;
    deleteRunAttachment(runId: string): Promise<void>;
  };
  /** The run's approvals and client tool calls (`approvals/`). */
  approvals?: Pick<ApprovalService, 'attach'>;
  /** How the run's records and log wait for a store that went away. */
  storeRetry?: StoreRetry;
  settings: {
    runTimeoutMs: number;
    eventBufferTtlMs: number;
    interruptGraceMs: number;
    agentSettleMs: number;
  };
}

/** What the execute service reports for metrics. */
export interface RunObserver extends WorkspaceObserver {
  /** `outcome` is `completed`, `interrupted` or the `run.failed` code. */
  runEnded(outcome: string, durationMs: number): void;
  /** The turn went to the agent's ready process (`used`), or why it did not. */
  agentReady?(used: boolean, reason: string | null): void;
}

/** A run this host carries on after the host running it went away. */
export interface ResumedRun {
  containerId: string;
  /** When the run started (its timeout counts from here). */
  startedAt: number;
  /** The SDK messages the run's log already holds: the agent's first this many are not recorded again. */
  recordedMessages: number;
  /** The run's control token (absent: the run was recorded without one). */
  controlToken?: string;
  /** The client tools the run offers. */
  clientTools: ClientTool[];
  /** The approvals and client tool calls the run's log holds as requested and as resolved. */
  loggedItems: { requested: ReadonlySet<string>; resolved: ReadonlySet<string> };
  /** How long the run has waited for approvals and client tool calls (not counted against its timeout). */
  waitedMs: number;
}

/** The metrics label of an outcome. */
export function outcomeLabel(outcome: Outcome): string {
  if ('error' in outcome) return outcome.error.code;
  return outcome.summary.interrupted ? 'interrupted' : 'completed';
}

/**
 * One run in progress on this host, from an accepted message to its terminal event: through its
 * hold on the workspace (`workspace/hold.ts`) acquire a container, sync in, run on the agent
 * while recording its events, sync out, hand the container back; then record the outcome,
 * release the workspace lock, publish the terminal event. It can be
 * asked to stop (interrupt, timeout, shutdown): the agent is told, and after a grace period the
 * connection is cut. Each step's failure is one error code (table in `execute-service.ts`).
 */
export class Run {
  private container: AcquiredContainer | null = null;
  /** The agent has accepted the run: an interrupt can reach it from then on. */
  private agentStarted = false;
  private stopReason: StopReason | null = null;
  /** Cuts the agent connection (a stop the agent did not honour in time). */
  private readonly abort = new AbortController();
  private escalation: Timer | null = null;
  /** This host stops and hands the run over: the connection is cut, the run goes on in its container. */
  private handingOver = false;
  /** The run's timeout; paused while an approval or client tool call waits. */
  private deadline: PausableTimer | null = null;
  /** The run's approvals and client tool calls, once it has its container. */
  private items: RunItems | null = null;
  /** The run's secret placeholders, once asked for (`runEnvironment`). */
  private env: Promise<Record<string, string> | undefined> | null = null;
  private readonly log: Logger;

  constructor(
    private readonly deps: RunDeps,
    readonly runId: string,
    private readonly conversation: ConversationRecord,
    private readonly input: RunInput,
    private readonly hold: WorkspaceHold,
    private readonly resumed: ResumedRun | null = null,
  ) {
    this.log = deps.logger.child({
      runId,
      workspaceId: conversation.workspaceId,
      conversationId: conversation.id,
    });
  }

  get workspaceId(): string {
    return this.conversation.workspaceId;
  }

  /**
   * Asks the run to stop: the agent's `interrupt()` when the agent has the run (else as soon
   * as it accepts it, or the run skips the agent), and after a grace period the agent
   * connection is cut, which aborts the SDK turn. The first reason wins.
   */
  stop(reason: StopReason): void {
    if (this.stopReason) return;
    this.stopReason = reason;
    this.log.info({ reason }, 'stopping run');
    if (this.agentStarted) this.interruptAgent();
    this.escalation = this.deps.clock.after(this.deps.settings.interruptGraceMs, () => {
      const container = this.container;
      if (!container) return;
      this.log.warn({ reason }, 'the agent did not stop in time; aborting its turn');
      // The agent keeps a run going when its connection drops: it is told to end it, then cut.
      container.agent
        .abort(this.runId)
        .catch((err: unknown) => this.log.warn({ err }, 'agent abort failed'))
        .finally(() => this.abort.abort());
    });
  }

  /**
   * Hands the run over (this host stops): the agent connection is cut without ending the run,
   * which goes on in its container; its events so far are in the StateStore buffer and the
   * workspace lock is left under the run's id, for the host that carries it on. Only a run
   * the agent has accepted can be handed over; answers whether this one was.
   */
  handOver(): boolean {
    if (!this.agentStarted || this.stopReason || this.handingOver) return false;
    this.handingOver = true;
    this.log.info('handing the run over; it goes on in its container');
    this.abort.abort();
    return true;
  }

  /** Runs to the end; never throws (a failure is the run's outcome). */
  async execute(): Promise<void> {
    const { clock, settings, observer } = this.deps;
    const startedAt = this.resumed?.startedAt ?? clock.now();
    const ranMs = clock.now() - startedAt - (this.resumed?.waitedMs ?? 0);
    const left = Math.max(0, settings.runTimeoutMs - ranMs);
    const timeout = new PausableTimer(clock, left, () => {
      this.log.warn({ timeoutMs: settings.runTimeoutMs }, 'run timed out');
      this.stop('timeout');
    });
    this.deadline = timeout;
    let result: { outcome: Outcome; sessionId: string | null };
    try {
      result = await this.pipeline();
    } finally {
      timeout.cancel();
      this.escalation?.cancel();
    }
    if (this.handingOver) {
      await this.hold.detach();
      if (!(await this.deps.events.detach(this.runId)))
        this.log.error('some events of the handed-over run are not in the StateStore buffer');
      this.log.info('run handed over');
      return;
    }
    const label = outcomeLabel(result.outcome);
    // Counted before the terminal event goes out, so a client that saw it also sees the metric.
    observer?.runEnded(label, clock.now() - startedAt);
    await this.finish(result.outcome, result.sessionId ?? this.conversation.sessionId);
    this.log.info({ outcome: label, durationMs: clock.now() - startedAt }, 'run ended');
  }

  private interruptAgent(): void {
    this.container?.agent.interrupt(this.runId).catch((err: unknown) => {
      // The grace period still cuts the connection if the agent did not hear.
      this.log.warn({ err }, 'agent interrupt failed');
    });
  }

  /** Enter the workspace, run, leave it; answers the outcome. Never throws. */
  private async pipeline(): Promise<{ outcome: Outcome; sessionId: string | null }> {
    const { hold } = this;
    let sessionId: string | null = null;
    let outcome: Outcome;
    let keep = true;
    try {
      if (this.resumed) {
        this.container = await hold.reenter(this.conversation.tenant, this.resumed.containerId);
        this.items = this.attachItems(this.container);
      } else {
        this.container = await hold.enter(this.conversation.tenant, await this.readyBasis());
        await hold.begin();
        this.items = this.attachItems(this.container);
        await this.attach(this.container.record.id);
      }
      const acquired = this.container;
      if (this.stopReason) {
        outcome = stoppedOutcome(
          this.stopReason,
          null,
          this.conversation.sessionId,
          this.deps.settings.runTimeoutMs,
        );
      } else {
        const ran = await this.runOnAgent(acquired);
        outcome = ran.outcome;
        sessionId = ran.sessionId;
        keep =
          ran.container === 'keep' ||
          (ran.container === 'keep-if-idle' && (await this.settles(acquired)));
      }
    } catch (err) {
      outcome = {
        error: err instanceof StepFailure ? err.body : { code: 'internal', message: String(err) },
      };
      this.log.error(
        { code: outcome.error.code, err, containerId: this.container?.record.id ?? null },
        'run step failed',
      );
    }
    if (this.handingOver) return { outcome, sessionId };
    const syncError = await hold.leave({ keep, reason: 'a run' });
    if (syncError && !('error' in outcome)) outcome = { error: syncError };
    return { outcome, sessionId };
  }

  /** The secret placeholders the run's agent gets, read once per run. */
  private runEnvironment(): Promise<Record<string, string> | undefined> {
    this.env ??= Promise.resolve(
      this.deps.runEnv?.(this.conversation.tenant, this.conversation.workspaceId),
    );
    return this.env;
  }

  /**
   * What a container created for this run starts Claude Code for as it boots: the run's request
   * but its id, prompt and control token. Without its secret placeholders (unreadable now) the
   * run still starts, on a process of its own.
   */
  private async readyBasis(): Promise<ReadyBasis> {
    const env = await this.runEnvironment().catch(() => undefined);
    const { sessionId } = this.conversation;
    return {
      ...(sessionId ? { resumeSessionId: sessionId } : {}),
      ...(env && Object.keys(env).length > 0 ? { env } : {}),
      ...(this.input.options ? { options: this.input.options } : {}),
    };
  }

  /** Records the run as in progress in its container, for a host that carries it on. */
  private async attach(containerId: string): Promise<void> {
    const { conversation } = this;
    try {
      const attachments = this.deps.attachments;
      if (!attachments) return;
      const attachment = {
        runId: this.runId,
        tenant: conversation.tenant,
        workspaceId: conversation.workspaceId,
        conversationId: conversation.id,
        containerId,
        startedAt: this.deps.clock.now(),
        ...(this.items ? { controlToken: this.items.controlToken } : {}),
        ...(this.input.options?.clientTools ? { clientTools: this.input.options.clientTools } : {}),
      };
      await this.stored('stateStore', 'run record', () => attachments.putRunAttachment(attachment));
    } catch (err) {
      // The run goes on; only a host taking it over would miss the record.
      this.log.warn({ err }, 'the run could not be recorded as in progress');
    }
  }

  /** The agent's events: a new run, or the whole of a run carried on from another host. */
  private agentEvents(
    container: AcquiredContainer,
    env: Record<string, string> | undefined,
    items: RunItems | null,
  ) {
    if (this.resumed) return container.agent.follow(this.runId, 0, this.abort.signal);
    return container.agent.run(
      {
        runId: this.runId,
        prompt: this.input.prompt,
        ...(this.conversation.sessionId ? { resumeSessionId: this.conversation.sessionId } : {}),
        ...(env && Object.keys(env).length > 0 ? { env } : {}),
        ...(this.input.options ? { options: this.input.options } : {}),
        ...(items ? { controlToken: items.controlToken } : {}),
      },
      this.abort.signal,
    );
  }

  /** Streams the run from the agent into the event log; answers what its stream amounts to. */
  private async runOnAgent(container: AcquiredContainer): Promise<AgentRunResult> {
    const { events } = this.deps;
    let state = initialAgentStream;
    let end: StreamEnd = { kind: 'closed' };
    const { items } = this;
    try {
      if (this.resumed)
        await items?.restore(this.resumed.loggedItems).catch((err: unknown) => {
          // The run goes on; its timeout still ends it if nobody can answer what it waits for.
          this.log.error({ err }, 'the approvals of the run could not be taken over');
        });
      const env = this.resumed ? undefined : await this.runEnvironment();
      const stream = this.agentEvents(container, env, items);
      /** SDK messages of a carried-on run the log already holds, still to skip. */
      let skip = this.resumed?.recordedMessages ?? 0;
      for await (const event of stream) {
        const next = applyAgentEvent(state, event);
        if (next.state.started && !state.started) {
          this.agentStarted = true;
          if (this.stopReason) this.interruptAgent();
        }
        if (next.state.ready && !state.ready) this.readyReported(next.state.ready);
        if (next.message) {
          if (skip > 0) skip -= 1;
          else events.append(this.runId, 'message', next.message);
        }
        if (next.item) await items?.onEvent(next.item);
        state = next.state;
      }
    } catch (error) {
      end = { kind: 'failed', error };
    }
    // A run handed over goes on waiting in its container for the host that carries it on.
    if (this.handingOver) items?.detach();
    else await items?.close();
    // However the stream ended, a connection the host cut is a stop, not a failure.
    if (this.abort.signal.aborted) end = { kind: 'cut' };
    const result = agentRunResult({
      state,
      end,
      stopReason: this.stopReason,
      previousSessionId: this.conversation.sessionId,
      runTimeoutMs: this.deps.settings.runTimeoutMs,
    });
    if (end.kind === 'failed' && 'error' in result.outcome) {
      this.log.error(
        { err: end.error, code: result.outcome.error.code },
        'agent connection failed',
      );
    }
    return result;
  }

  /** The run's approvals, reaching its agent through `container`. */
  private attachItems(container: AcquiredContainer): RunItems | null {
    const { approvals, events } = this.deps;
    const answer = container.agent.answer?.bind(container.agent);
    if (!approvals || !answer) return null;
    return approvals.attach({
      runId: this.runId,
      tenant: this.conversation.tenant,
      workspaceId: this.conversation.workspaceId,
      conversationId: this.conversation.id,
      clientTools: this.resumed?.clientTools ?? this.input.options?.clientTools ?? [],
      ...(this.resumed?.controlToken ? { controlToken: this.resumed.controlToken } : {}),
      deliver: (itemId, token, a) => answer(this.runId, itemId, token, a),
      append: (event, data) => events.append(this.runId, event, data),
      pause: () => this.deadline?.pause(),
      resume: () => this.deadline?.resume(),
    });
  }

  /** `call`, retried while its store is unavailable (`storeRetry`). */
  private stored<T>(dependency: Dependency, what: string, call: () => Promise<T>): Promise<T> {
    const retry = this.deps.storeRetry;
    return retry ? untilStored(retry, dependency, what, call) : call();
  }

  /** Logs and counts whether the turn went to a ready Claude Code process, and why not. */
  private readyReported(ready: { used: boolean; reason?: string }): void {
    this.deps.observer?.agentReady?.(ready.used, ready.reason ?? null);
    if (ready.used) this.log.info('the turn went to a ready agent process');
    else this.log.info({ reason: ready.reason ?? null }, 'the turn started a fresh agent process');
  }

  /** Waits for an agent whose connection was cut to be idle again; false when it stays busy. */
  private async settles(container: AcquiredContainer): Promise<boolean> {
    const { clock, settings } = this.deps;
    const deadline = clock.now() + settings.agentSettleMs;
    while (clock.now() < deadline) {
      let busy: boolean;
      try {
        busy = (await container.agent.health(1000)).busy;
      } catch {
        // An agent that does not answer has not let go: the container is removed.
        return false;
      }
      if (!busy) return true;
      await clock.sleep(100);
    }
    return false;
  }

  /**
   * Puts the run's end into the webhook outbox, once it is recorded and before its terminal
   * event goes out. A failure here is logged; it never changes the run's outcome.
   */
  private async publishEnd(outcome: Outcome, endedAt: string): Promise<void> {
    const { webhooks } = this.deps;
    if (!webhooks) return;
    const { runId, conversation } = this;
    const base = {
      workspaceId: conversation.workspaceId,
      conversationId: conversation.id,
      runId,
      endedAt,
    };
    try {
      if ('summary' in outcome)
        await webhooks.publish(conversation.tenant, 'run.completed', {
          ...base,
          summary: outcome.summary,
        });
      else
        await webhooks.publish(conversation.tenant, 'run.failed', {
          ...base,
          error: outcome.error,
        });
    } catch (err) {
      this.log.error({ err }, 'the run end could not be put into the webhook outbox');
    }
  }

  /**
   * Ends the run's log: persists every event and the outcome to the catalog and releases the
   * workspace lock, then publishes the terminal event.
   */
  private async finish(outcome: Outcome, sessionId: string | null): Promise<void> {
    const { catalog, events, clock, settings } = this.deps;
    const { runId, conversation } = this;
    const endedAt = new Date(clock.now()).toISOString();
    const record = async (all: readonly BufferedEvent[]): Promise<void> => {
      try {
        const attachments = this.deps.attachments;
        if (attachments)
          await this.stored('stateStore', 'run record', () =>
            attachments.deleteRunAttachment(runId),
          ).catch((err: unknown) => {
            this.log.warn({ err }, 'the run could not be recorded as ended');
          });
        await this.stored('objectStore', 'run log', () =>
          catalog.writeRunEvents(conversation, runId, all),
        );
        await this.stored('objectStore', 'conversation', () =>
          catalog.updateConversation(conversation, (c) => {
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
          }),
        );
        await this.publishEnd(outcome, endedAt);
      } finally {
        await this.hold.release();
      }
    };
    try {
      if ('summary' in outcome)
        await events.end(runId, 'run.completed', { runId, ...outcome.summary }, record);
      else await events.end(runId, 'run.failed', outcome.error, record);
    } catch (err) {
      this.log.error({ err }, 'recording the end of the run failed');
    }
    try {
      await events.expire(runId, settings.eventBufferTtlMs);
    } catch (err) {
      this.log.warn({ err }, 'could not set the expiry of the run buffer');
    }
  }
}
