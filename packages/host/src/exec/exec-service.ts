import { randomBytes } from 'node:crypto';
import {
  CONTAINER_PATHS,
  WorkcellError,
  workspaceCwd,
  type ErrorBody,
  type ExecRequest,
} from '@workcell/protocol';
import type { Logger } from 'pino';
import type { Principal } from '../auth/tokens.js';
import type { Catalog } from '../catalog/catalog.js';
import type { AcquiredContainer } from '../containers/run-containers.js';
import type {
  ContainerRuntime,
  ExecChunk,
  ExecExitStatus,
  ExecProcess,
} from '../containers/runtime.js';
import { settlesWithin, type Clock, type Timer } from '../time/clock.js';
import type { Workspaces, WorkspaceHold, WorkspaceObserver } from '../workspace/hold.js';
import { step } from '../workspace/step.js';
import { checkWorkspaceCwd } from './exec-cwd.js';
import { execEnvironment, type ExecEnvSettings } from './exec-env.js';

export interface ExecSettings {
  /** The default and the largest timeout a request may ask for (`WORKCELL_EXEC_TIMEOUT_MS`). */
  timeoutMs: number;
  /** How long a killed command may take to end before the kill is sent again. */
  killRetryMs?: number;
  /** The agent's model provider: the environment names its routes. */
  env: ExecEnvSettings;
}

/** How a command ended. */
export interface ExecEnd {
  exit: ExecExitStatus;
  timedOut: boolean;
  durationMs: number;
  /**
   * Something after the command failed: `sync_failed` when its changes could not be saved (the
   * container keeps them; the next run or exec saves them), `container_failed` when its output
   * broke off.
   */
  error?: ErrorBody;
}

/** What the exec service reports for metrics. */
export interface ExecObserver extends WorkspaceObserver {
  /** `outcome`: `exited`, `signal`, `timeout` or `failed`. */
  execEnded(outcome: string, durationMs: number): void;
}

/** The metrics label of how a command ended. */
export function execOutcome(end: ExecEnd): string {
  if (end.error) return 'failed';
  if (end.timedOut) return 'timeout';
  return end.exit.signal ? 'signal' : 'exited';
}

/** Why a command is being killed. */
type KillReason = 'timeout' | 'client' | 'shutdown';

const DEFAULT_KILL_RETRY_MS = 2_000;
/** How long killed commands get to end at shutdown. */
const SHUTDOWN_KILL_WAIT_MS = 10_000;

/** An exec's id, its holder name on the workspace lock. */
function newExecId(): string {
  return `exec_${randomBytes(12).toString('base64url').replace(/[-_]/g, 'x')}`;
}

/** A step's failure as the error the API answers (a `StepFailure` is one already). */
function asWorkcellError(err: unknown): WorkcellError {
  if (err instanceof WorkcellError) return err;
  return new WorkcellError('internal', err instanceof Error ? err.message : String(err));
}

interface ExecDeps {
  catalog: Pick<Catalog, 'getWorkspace'>;
  /** Holds the command's workspace: admission, the lock, the container, sync in and out. */
  workspaces: Workspaces;
  runtime: Pick<ContainerRuntime, 'exec'>;
  clock: Clock;
  logger: Logger;
  settings: ExecSettings;
  /** The workspace's secret placeholders (`WORKCELL_SECRET_<NAME>`), as a run gets them. */
  placeholders?: (tenant: string, workspaceId: string) => Promise<Record<string, string>>;
  /** The workspace's agent `env` (its settings over the operator's), as its tools get it. */
  agentEnv?: (tenant: string, workspaceId: string) => Promise<Record<string, string>>;
  observer?: ExecObserver;
}

/**
 * Runs commands in workspace containers (`POST /v1/workspaces/:wid/exec`) the way a message runs
 * the agent: under the workspace lock (a message or another exec meanwhile answers
 * `workspace_busy`, and an exec waits for nothing), in the container a run would get, files
 * synced in before and out after, with the agent's user, limits and environment.
 */
export class ExecService {
  private readonly active = new Map<string, StartedExec>();
  private accepting = true;

  constructor(private readonly deps: ExecDeps) {}

  /** Commands in progress on this host. */
  get activeExecs(): number {
    return this.active.size;
  }

  /**
   * Admits a command and starts it: answers once it runs, so everything that can refuse it
   * (`not_found`, `workspace_busy`, `validation_failed`, `host_at_capacity`,
   * `container_start_failed`, `sync_failed`, `container_failed`) is thrown before any output.
   */
  async start(
    principal: Principal,
    workspaceId: string,
    request: ExecRequest,
  ): Promise<StartedExec> {
    const { catalog, clock, settings, logger } = this.deps;
    if (!this.accepting)
      throw new WorkcellError('shutting_down', 'the host is shutting down; retry on another host');
    const timeoutMs = request.timeoutMs ?? settings.timeoutMs;
    if (timeoutMs > settings.timeoutMs)
      throw new WorkcellError(
        'validation_failed',
        `body.timeoutMs: at most ${settings.timeoutMs} (WORKCELL_EXEC_TIMEOUT_MS)`,
      );
    const { tenant } = principal;
    await catalog.getWorkspace(tenant, workspaceId);
    const id = newExecId();
    const hold = await this.deps.workspaces.take(workspaceId, id, { retake: true });
    if (!hold)
      throw new WorkcellError('workspace_busy', 'a run is already in progress in this workspace');
    const log = logger.child({ execId: id, workspaceId });
    try {
      // Read again under the lock: a workspace deleted meanwhile is not found.
      await catalog.getWorkspace(tenant, workspaceId);
      const env = execEnvironment(
        settings.env,
        (await this.deps.placeholders?.(tenant, workspaceId)) ?? {},
        { ...(await this.deps.agentEnv?.(tenant, workspaceId)), ...request.env },
      );
      const acquired = await hold.enter(tenant);
      const cwd = workspaceCwd(request.cwd ?? CONTAINER_PATHS.workspace);
      if (!cwd)
        throw new WorkcellError('invalid_path', 'cwd must name a directory inside /workspace');
      await checkWorkspaceCwd(acquired.slot.workspaceDir, cwd);
      await hold.begin();
      const startedAt = clock.now();
      const proc = await step('container_failed', 'starting the command', () =>
        this.deps.runtime.exec(acquired.record.id, {
          argv: request.command,
          cwd,
          env,
          ...(request.stdin ? { stdin: Buffer.from(request.stdin, 'utf8') } : {}),
        }),
      );
      log.info(
        { containerId: acquired.record.id, source: acquired.source, program: request.command[0] },
        'exec started',
      );
      const started = new StartedExec(
        { ...this.deps, log, onEnd: () => this.active.delete(id) },
        { id, container: acquired, hold, proc, startedAt, timeoutMs },
      );
      this.active.set(id, started);
      return started;
    } catch (err) {
      // Nothing ran: the container goes back as it was, without a sync out.
      await hold.leave({ keep: true, reason: 'an exec', syncOut: false });
      await hold.release();
      const error = asWorkcellError(err);
      log.warn({ code: error.code, err }, 'exec refused');
      throw error;
    }
  }

  /**
   * Graceful shutdown: no new commands; those in progress get until `deadlineMs`, then are
   * killed, and their files synced out.
   */
  async shutdown(deadlineMs: number): Promise<void> {
    this.accepting = false;
    const all = (): Promise<unknown> => Promise.all([...this.active.values()].map((e) => e.ended));
    if (await settlesWithin(this.deps.clock, all(), deadlineMs)) return;
    for (const exec of this.active.values()) exec.kill('shutdown');
    await settlesWithin(this.deps.clock, all(), SHUTDOWN_KILL_WAIT_MS);
  }
}

/**
 * A command that runs: `run` streams its output to a callback and ends it (timeout, kill,
 * sync out, the container handed back, the workspace lock released).
 */
export class StartedExec {
  private killedFor: KillReason | null = null;
  private retry: Timer | null = null;
  private settle: (() => void) | null = null;
  /** Resolves once `run` has ended it (never rejects). */
  readonly ended: Promise<void>;

  constructor(
    private readonly deps: ExecDeps & { log: Logger; onEnd: () => void },
    private readonly exec: {
      id: string;
      container: AcquiredContainer;
      hold: WorkspaceHold;
      proc: ExecProcess;
      startedAt: number;
      timeoutMs: number;
    },
  ) {
    this.ended = new Promise((resolve) => {
      this.settle = resolve;
    });
  }

  get id(): string {
    return this.exec.id;
  }

  /**
   * Kills the command and everything it started; the kill is sent again every few seconds
   * until its output ends (a kill sent before the command's session is recorded misses it).
   */
  kill(reason: KillReason): void {
    if (this.killedFor) return;
    this.killedFor = reason;
    this.deps.log.info({ reason }, 'killing the command');
    const send = (): void => {
      this.exec.proc.kill().catch((err: unknown) => {
        this.deps.log.warn({ err }, 'killing the command failed');
      });
      this.retry = this.deps.clock.after(
        this.deps.settings.killRetryMs ?? DEFAULT_KILL_RETRY_MS,
        send,
      );
    };
    send();
  }

  /**
   * Feeds each output chunk to `onChunk` (awaited: a slow consumer slows the command) until the
   * command ends, `signal` aborts (the client went away: the command is killed) or it times
   * out; then syncs its changes out and hands the container back. Never throws.
   */
  async run(
    onChunk: (chunk: ExecChunk) => void | Promise<void>,
    signal?: AbortSignal,
  ): Promise<ExecEnd> {
    const { clock, log } = this.deps;
    const { proc, timeoutMs } = this.exec;
    const timer = clock.after(timeoutMs, () => this.kill('timeout'));
    const onAbort = (): void => this.kill('client');
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) onAbort();
    let error: ErrorBody | undefined;
    let exit: ExecExitStatus = { code: null, signal: null };
    try {
      for await (const chunk of proc.output) await onChunk(chunk);
      exit = await proc.wait();
    } catch (err) {
      log.error({ err }, 'the command output broke off');
      error = { code: 'container_failed', message: 'the command output broke off' };
      this.kill('client');
    } finally {
      timer.cancel();
      signal?.removeEventListener('abort', onAbort);
    }
    this.retry?.cancel();
    const durationMs = clock.now() - this.exec.startedAt;
    const syncError = await this.finish();
    const end: ExecEnd = {
      exit,
      timedOut: this.killedFor === 'timeout',
      durationMs,
      ...((error ?? syncError) ? { error: error ?? syncError } : {}),
    };
    this.deps.observer?.execEnded(execOutcome(end), durationMs);
    log.info(
      { exitCode: exit.code, signal: exit.signal, timedOut: end.timedOut, durationMs },
      'exec ended',
    );
    return end;
  }

  /** Syncs out, hands the container back, releases the lock; answers a sync failure. */
  private async finish(): Promise<ErrorBody | undefined> {
    const { hold } = this.exec;
    const error = await hold.leave({ keep: true, reason: 'an exec' });
    await hold.release();
    this.deps.onEnd();
    this.settle?.();
    return error ?? undefined;
  }
}
