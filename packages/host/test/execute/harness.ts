import { WorkcellError } from '@workcell/protocol';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AgentEvent, AgentHealth, RunRequest, RunSummary } from '@workcell/protocol';
import { pino } from 'pino';
import { Catalog } from '../../src/catalog/catalog.js';
import type {
  ColdStart,
  AcquiredContainer,
  AgentConnection,
  RunContainers,
} from '../../src/containers/run-containers.js';
import type { Slot } from '../../src/containers/slots.js';
import {
  ExecuteService,
  type ExecuteSettings,
  type RunObserver,
} from '../../src/execute/execute-service.js';
import { RunEventLog } from '../../src/execute/run-events.js';
import type { WorkspaceSync } from '../../src/containers/workspace-sync.js';
import { MemoryStateStore } from '../../src/state/memory-store.js';
import type { BufferedEvent } from '../../src/state/state-store.js';
import { DirectoryObjectStore } from '../../src/storage/directory-store.js';
import { systemClock, type Clock } from '../../src/time/clock.js';
import { Workspaces } from '../../src/workspace/hold.js';

/** What a scripted agent does for one run. */
export type AgentScript = (ctx: {
  request: RunRequest;
  signal: AbortSignal | undefined;
  /** Resolves when the host calls `interrupt` for this run. */
  interrupted: Promise<void>;
}) => AsyncGenerator<AgentEvent>;

/** An agent that answers from a script; records interrupts and reports itself idle. */
export class ScriptedAgent implements AgentConnection {
  script: AgentScript = async function* ({ request }) {
    yield { type: 'run.started', runId: request.runId };
    yield { type: 'sdk', message: { type: 'system', subtype: 'init', session_id: 'sess-1' } };
    yield {
      type: 'sdk',
      message: { type: 'assistant', message: { content: [{ type: 'text', text: 'hi' }] } },
    };
    yield { type: 'run.completed', summary: summary() };
  };
  interrupts: string[] = [];
  /** Reports busy in health (an agent that has not let go of a run whose connection was cut). */
  busyAfterAbort = false;
  private onInterrupt: (() => void) | null = null;

  async *run(request: RunRequest, signal?: AbortSignal): AsyncGenerator<AgentEvent> {
    const interrupted = new Promise<void>((resolve) => {
      this.onInterrupt = resolve;
    });
    const events = this.script({ request, signal, interrupted });
    const aborted = new Promise<never>((_, reject) => {
      if (signal?.aborted) reject(new Error('aborted'));
      signal?.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
    });
    aborted.catch(() => undefined);
    for (;;) {
      const next = await Promise.race([events.next(), aborted]);
      if (next.done) return;
      yield next.value;
    }
  }

  async interrupt(runId: string): Promise<boolean> {
    this.interrupts.push(runId);
    this.onInterrupt?.();
    return true;
  }

  aborts: string[] = [];

  async abort(runId: string): Promise<boolean> {
    this.aborts.push(runId);
    return true;
  }

  async *follow(runId: string): AsyncGenerator<AgentEvent> {
    throw new WorkcellError('container_lost', `the agent has no run ${runId}`);
  }

  async health(): Promise<AgentHealth> {
    return { status: 'ok', busy: this.busyAfterAbort, runId: null, version: 'test', uptimeMs: 1 };
  }
}

export function summary(overrides: Partial<RunSummary> = {}): RunSummary {
  return {
    sessionId: 'sess-1',
    subtype: 'success',
    isError: false,
    interrupted: false,
    durationMs: 5,
    numTurns: 1,
    totalCostUsd: 0,
    usage: null,
    result: 'hi',
    ...overrides,
  };
}

/** An orchestrator that hands out one fake container and records what happened to it. */
export class FakeOrchestrator implements RunContainers {
  readonly agent = new ScriptedAgent();
  calls: string[] = [];
  acquireError: Error | null = null;
  beginResult = true;
  acquireDelayMs = 0;
  /** Acquire creates the container, as a cold start does: it syncs in before it starts. */
  cold = false;
  /** What the last cold start's agent was to start Claude Code for. */
  readyBasis: ColdStart['ready'] | null = null;

  private readonly slot: Slot = {
    id: 'slot-1',
    root: '/nonexistent',
    socketDir: '/nonexistent/sock',
    egressDir: '/nonexistent/egress',
    workspaceDir: '/nonexistent/ws',
    claudeDir: '/nonexistent/claude',
    agentSocket: '/nonexistent/sock/agent.sock',
    egressSocket: '/nonexistent/sock/egress.sock',
  };

  async acquire(tenant: string, workspaceId: string, cold?: ColdStart): Promise<AcquiredContainer> {
    this.calls.push('acquire');
    if (this.acquireDelayMs > 0) await new Promise((r) => setTimeout(r, this.acquireDelayMs));
    if (this.acquireError) throw this.acquireError;
    const created = this.cold && cold !== undefined;
    if (created) {
      this.readyBasis = cold.ready ?? null;
      // As the orchestrator's start: a failed sync in is a failed start, cleaned up there.
      await cold.syncIn(this.slot).catch((err: unknown) => {
        throw new WorkcellError(
          'container_start_failed',
          `container failed to start: ${String(err)}`,
        );
      });
    }
    return {
      ...(created ? { syncedIn: true } : {}),
      record: {
        id: 'c1',
        slotId: this.slot.id,
        hostId: 'h',
        image: 'img',
        state: 'assigned',
        workspaceId,
        tenant,
        createdAt: 0,
        stateChangedAt: 0,
        lastRunEndedAt: null,
        runId: null,
      },
      slot: this.slot,
      agent: this.agent,
      source: created ? 'cold' : 'assigned',
      acquireMs: 3,
    };
  }

  async reattach(): Promise<AcquiredContainer | null> {
    this.calls.push('reattach');
    return null;
  }

  async beginRun(): Promise<boolean> {
    this.calls.push('beginRun');
    return this.beginResult;
  }

  async endRun(): Promise<void> {
    this.calls.push('endRun');
  }

  async remove(): Promise<void> {
    this.calls.push('remove');
  }

  async markFailed(): Promise<void> {
    this.calls.push('markFailed');
  }
}

export class FakeSync implements WorkspaceSync {
  calls: string[] = [];
  inError: Error | null = null;
  outError: Error | null = null;

  async syncIn(): Promise<void> {
    this.calls.push('in');
    if (this.inError) throw this.inError;
  }

  async syncOut(): Promise<void> {
    this.calls.push('out');
    if (this.outError) throw this.outError;
  }
}

export class RecordingObserver implements RunObserver {
  acquired: string[] = [];
  ended: string[] = [];
  containerAcquired(source: string): void {
    this.acquired.push(source);
  }
  runEnded(outcome: string): void {
    this.ended.push(outcome);
  }
}

export interface Harness {
  service: ExecuteService;
  state: MemoryStateStore;
  events: RunEventLog;
  catalog: Catalog;
  orchestrator: FakeOrchestrator;
  sync: FakeSync;
  observer: RecordingObserver;
  principal: { tenant: string; admin: boolean };
  conversationId: string;
  workspaceId: string;
  /** Starts a run and waits for its terminal event; answers every event of the run. */
  runToEnd(content?: string): Promise<{ runId: string; events: BufferedEvent[] }>;
  /** Every event of a run, following it to its end. */
  collect(runId: string): Promise<BufferedEvent[]>;
  dispose(): void;
}

export async function harness(
  settings: Partial<ExecuteSettings> = {},
  options: { clock?: Clock } = {},
): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'wc-exec-'));
  const objects = new DirectoryObjectStore({ root: dir });
  const state = new MemoryStateStore();
  const logger = pino({ level: 'silent' });
  const catalog = new Catalog(objects);
  const events = new RunEventLog(state, { logger, pollMs: 20, finishedCheckMs: 50 });
  const orchestrator = new FakeOrchestrator();
  const sync = new FakeSync();
  const observer = new RecordingObserver();
  const service = new ExecuteService({
    catalog,
    workspaces: new Workspaces({
      containers: orchestrator,
      sync,
      state,
      clock: options.clock ?? systemClock,
      logger,
      observer,
      settings: { lockTtlMs: 30_000 },
    }),
    state,
    events,
    observer,
    logger,
    ...(options.clock ? { clock: options.clock } : {}),
    settings: {
      runTimeoutMs: 60_000,
      maxPromptBytes: 1024,
      eventBufferTtlMs: 60_000,
      interruptGraceMs: 200,
      ...settings,
    },
  });
  const principal = { tenant: 'tenant-a', admin: false };
  const ws = await catalog.createWorkspace(principal.tenant, 'w');
  const conv = await catalog.createConversation(principal.tenant, ws.id, 'c');

  const collect = async (runId: string): Promise<BufferedEvent[]> => {
    const out: BufferedEvent[] = [];
    const c = await catalog.getConversation(principal.tenant, conv.id);
    for await (const e of events.follow(runId, 0, new AbortController().signal, {
      isFinished: async () =>
        (await catalog.getConversation(principal.tenant, conv.id)).runs.find((r) => r.id === runId)
          ?.status !== 'running',
      readPersisted: () => catalog.readRunEvents(c, runId),
    })) {
      out.push(...e);
    }
    return out;
  };

  return {
    service,
    state,
    events,
    catalog,
    orchestrator,
    sync,
    observer,
    principal,
    conversationId: conv.id,
    workspaceId: ws.id,
    collect,
    async runToEnd(content = 'hello') {
      const { runId } = await service.start(principal, conv.id, content);
      const all = await collect(runId);
      await service.drain();
      return { runId, events: all };
    },
    dispose() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const parse = (e: BufferedEvent | undefined): Record<string, unknown> =>
  JSON.parse(e?.data ?? 'null') as Record<string, unknown>;
