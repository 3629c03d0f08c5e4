import { WorkcellError, toErrorBody, type ErrorBody, type RunSummary } from '@workcell/protocol';
import type { Logger } from 'pino';
import type { Catalog, ConversationRecord, RunRecord } from '../catalog/catalog.js';
import { newId } from '../catalog/catalog.js';
import type { Principal } from '../auth/tokens.js';
import type { AcquiredContainer, Orchestrator } from '../containers/orchestrator.js';
import type { StateStore } from '../state/state-store.js';
import type { WorkspaceSync } from './workspace-sync.js';
import type { RunEventLog } from './run-events.js';

export interface ExecuteSettings {
  runTimeoutMs: number;
  maxPromptBytes: number;
  /** How long a run lease lives without renewal (a crashed host's lease expires after this). */
  leaseTtlMs: number;
  /** How long a finished run's events stay in the StateStore buffer. */
  eventBufferTtlMs: number;
}

interface ActiveRun {
  runId: string;
  workspaceId: string;
  container: AcquiredContainer | null;
  interrupted: boolean;
  timedOut: boolean;
  done: Promise<void>;
}

export const runLeaseName = (workspaceId: string): string => `run:${workspaceId}`;

/**
 * One message of a conversation, as one pipeline: authorise, take the workspace's run lease,
 * acquire a container, sync in, run on the agent socket while relaying and recording events,
 * sync out, release. Each step's failure becomes one error code in a `run.failed` event, and
 * every path releases the lease and returns or retires the container.
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
    },
  ) {}

  /** Runs in progress on this host. */
  get activeRuns(): number {
    return this.active.size;
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
   * Starts a run for `content` on the conversation. Answers once the run is accepted (lease
   * held, run recorded); the run goes on in the background whether or not anyone listens.
   */
  async start(principal: Principal, conversationId: string, content: string): Promise<{ runId: string; conversation: ConversationRecord }> {
    const { catalog, state, settings } = this.deps;
    if (!this.accepting) throw new WorkcellError('shutting_down', 'the host is shutting down; retry on another host');
    if (Buffer.byteLength(content, 'utf8') > settings.maxPromptBytes) {
      throw new WorkcellError('payload_too_large', `message content is over ${settings.maxPromptBytes} bytes`);
    }
    const conversation = await catalog.getConversation(principal.tenant, conversationId);
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
      recorded = await catalog.updateConversation(conversation, (c) => c.runs.push(run));
      await this.deps.events.append(runId, 'run.started', { runId, conversationId, workspaceId: conversation.workspaceId });
    } catch (err) {
      await state.releaseLease(lease, runId);
      throw err;
    }
    const active: ActiveRun = {
      runId,
      workspaceId: conversation.workspaceId,
      container: null,
      interrupted: false,
      timedOut: false,
      done: Promise.resolve(),
    };
    this.active.set(runId, active);
    active.done = this.execute(active, recorded, content).finally(() => this.active.delete(runId));
    return { runId, conversation: recorded };
  }

  /** Interrupts a run in progress on this host; `not_found` when there is none. */
  async interrupt(principal: Principal, conversationId: string, runId: string): Promise<void> {
    const conversation = await this.deps.catalog.getConversation(principal.tenant, conversationId);
    const record = this.deps.catalog.getRun(conversation, runId);
    const active = this.active.get(runId);
    if (!active || record.status !== 'running') throw new WorkcellError('conflict', 'the run is not in progress');
    active.interrupted = true;
    if (active.container) await active.container.agent.interrupt(runId).catch(() => false);
  }

  private async execute(active: ActiveRun, conversation: ConversationRecord, content: string): Promise<void> {
    const { orchestrator, state, events, sync, settings, logger } = this.deps;
    const { runId, workspaceId } = active;
    const log = logger.child({ runId, workspaceId, conversationId: conversation.id });
    const lease = runLeaseName(workspaceId);
    const renew = setInterval(() => {
      void state.renewLease(lease, runId, settings.leaseTtlMs).catch((err: unknown) => log.warn({ err: String(err) }, 'lease renewal failed'));
    }, Math.max(1000, Math.floor(settings.leaseTtlMs / 3)));
    const timeout = setTimeout(() => {
      active.timedOut = true;
      log.warn({ timeoutMs: settings.runTimeoutMs }, 'run timed out; interrupting');
      void active.container?.agent.interrupt(runId).catch(() => false);
    }, settings.runTimeoutMs);

    let outcome: { summary: RunSummary } | { error: ErrorBody } = { error: { code: 'internal', message: 'the run did not finish' } };
    let sessionId = conversation.sessionId;
    let containerHealthy = true;
    let synced = false;
    try {
      const container = await orchestrator.acquire(conversation.tenant, workspaceId);
      active.container = container;
      log.info({ containerId: container.record.id, source: container.source, acquireMs: container.acquireMs }, 'container acquired');
      await sync.syncIn(conversation.tenant, workspaceId, container.slot);
      if (!(await orchestrator.beginRun(container.record.id, runId))) {
        throw new WorkcellError('container_failed', 'the container is not available for a run');
      }
      if (active.interrupted || active.timedOut) {
        outcome = active.timedOut
          ? { error: { code: 'run_timeout', message: `the run exceeded ${settings.runTimeoutMs} ms` } }
          : { summary: interruptedBeforeStart(sessionId) };
      } else {
        let terminal = false;
        for await (const event of container.agent.run({
          runId,
          prompt: content,
          ...(conversation.sessionId ? { resumeSessionId: conversation.sessionId } : {}),
        })) {
          if (event.type === 'sdk') {
            const sid = event.message.session_id;
            if (typeof sid === 'string' && event.message.type === 'system' && event.message.subtype === 'init') sessionId = sid;
            await events.append(runId, 'message', event.message);
          } else if (event.type === 'run.completed') {
            terminal = true;
            if (event.summary.sessionId) sessionId = event.summary.sessionId;
            outcome = active.timedOut
              ? { error: { code: 'run_timeout', message: `the run exceeded ${settings.runTimeoutMs} ms` } }
              : { summary: { ...event.summary, interrupted: event.summary.interrupted || active.interrupted } };
          } else if (event.type === 'run.failed') {
            terminal = true;
            outcome = { error: event.error };
          }
        }
        if (!terminal) {
          containerHealthy = false;
          outcome = { error: { code: 'container_failed', message: 'the agent stopped before the run ended (the container may have been killed)' } };
        }
      }
      await sync.syncOut(conversation.tenant, workspaceId, container.slot);
      synced = true;
    } catch (err) {
      const body = toErrorBody(err, 'internal');
      if (body.code === 'agent_unavailable' || body.code === 'internal') containerHealthy = false;
      outcome = { error: body.code === 'internal' ? { code: 'agent_failed', message: body.message } : body };
      log.error({ err: String(err), code: body.code }, 'run failed');
      if (active.container && !synced) {
        await sync.syncOut(conversation.tenant, workspaceId, active.container.slot).catch((e: unknown) => {
          log.error({ err: String(e) }, 'sync out after a failed run failed');
        });
      }
    } finally {
      clearInterval(renew);
      clearTimeout(timeout);
    }

    const container = active.container;
    if (container) {
      if (containerHealthy) await orchestrator.endRun(container.record.id).catch(() => undefined);
      else await orchestrator.remove(container.record.id, 'failed during a run').catch(() => undefined);
    }

    const endedAt = new Date().toISOString();
    try {
      if ('summary' in outcome) {
        await events.append(runId, 'run.completed', { runId, ...outcome.summary });
      } else {
        await events.append(runId, 'run.failed', outcome.error);
      }
      const all = await events.read(runId, 0);
      await this.deps.catalog.writeRunEvents(conversation, runId, all.map((e) => JSON.stringify(e)).join('\n') + '\n');
      await this.deps.catalog.updateConversation(conversation, (c) => {
        if (sessionId) c.sessionId = sessionId;
        const run = c.runs.find((r) => r.id === runId);
        if (run) {
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
        }
      });
      await events.expire(runId, settings.eventBufferTtlMs);
    } catch (err) {
      log.error({ err: String(err) }, 'recording the end of the run failed');
    } finally {
      await state.releaseLease(lease, runId).catch(() => false);
    }
    log.info({ outcome: 'summary' in outcome ? 'completed' : outcome.error.code }, 'run ended');
  }
}

function interruptedBeforeStart(sessionId: string | null): RunSummary {
  return {
    sessionId,
    subtype: 'interrupted',
    isError: false,
    interrupted: true,
    durationMs: 0,
    numTurns: 0,
    totalCostUsd: null,
    usage: null,
    result: null,
  };
}
