import { startup, type Options, type WarmQuery } from '@anthropic-ai/claude-agent-sdk';
import {
  readyBasisSchema,
  runOptionsSchema,
  type ReadyBasis,
  type ReadyFallbackReason,
  type RunOptions,
  type RunRequest,
} from '@workcell/protocol';
import type { Logger } from 'pino';
import { contextFingerprint } from './context-fingerprint.js';
import type { AgentSettings } from './sdk-env.js';
import { sdkOptions, type GateSource } from './sdk-options.js';

/** How the agent keeps ready processes (from its environment, `AGENT_READY_ENV`). */
export interface ReadySettings {
  enabled: boolean;
  /** How long a process started for a conversation's next turn waits before it is closed. */
  idleMs: number;
  /** The options of the process a warm pool container starts: the operator's defaults. */
  poolOptions: RunOptions | null;
  /**
   * In a container started for a run: what of that run the process the agent starts as it
   * boots is for (the workspace's files are in place before the container starts).
   */
  firstRun?: ReadyBasis | null;
}

/** Where a ready process's stderr goes: the run that uses it points it at its own buffer. */
export interface StderrSink {
  write: (data: string) => void;
}

/** A started Claude Code process a run may take. */
export interface ReadyProcess {
  warm: WarmQuery;
  /** The process's abort controller, fixed at start: the run aborts through it. */
  abort: AbortController;
  stderr: StderrSink;
}

/** What `take` answers: the process, or why the run starts a fresh one. */
export type ReadyTake =
  { process: ReadyProcess; reason?: undefined } | { process: null; reason: ReadyFallbackReason };

interface Pending {
  /** The options that matter, as a stable string (`optionsKey`). */
  key: string;
  resume: string | null;
  purpose: 'pool' | 'first-run' | 'next-turn';
  /** The context files as the process reads them, read before it starts. */
  fingerprint: Promise<string | null>;
  process: Promise<ReadyProcess | null>;
  /** Kills the process, also while it is still starting. */
  abort: AbortController;
  /** Settled and started (for `/health`). */
  started: boolean;
  idleTimer: NodeJS.Timeout | null;
}

/**
 * At most one Claude Code process started ahead of the next run (the SDK's `startup()`): in a
 * fresh container, for `/workspace` with the operator's default options; after a run, for the
 * next turn of the same conversation (`resume`). A run takes it only when its options, its
 * session and the workspace's context files (`context-fingerprint.ts`) are the ones it was
 * started with; otherwise the process is closed and the run starts a fresh one, with the
 * reason reported to the host.
 */
export class ReadyAgents {
  private pending: Pending | null = null;
  /** The host released this agent's ready process during a run: the run's end starts none. */
  private skipNextTurn = false;

  constructor(
    private readonly agent: AgentSettings,
    private readonly settings: ReadySettings,
    private readonly logger: Logger,
    /** Where a process's permission and client-tool callbacks find the run that took it. */
    private readonly gates?: GateSource,
  ) {}

  /** A started process is waiting for a run. */
  get ready(): boolean {
    return this.pending?.started ?? false;
  }

  /**
   * Starts the process a fresh container keeps: for the run it was started for, else with the
   * operator's defaults (nothing when off or without either).
   */
  preparePool(): void {
    const { poolOptions, firstRun } = this.settings;
    if (!this.settings.enabled) return;
    if (firstRun)
      this.prepare(
        { ...firstRun, runId: 'ready', prompt: '' },
        firstRun.resumeSessionId ?? null,
        'first-run',
      );
    else if (poolOptions)
      this.prepare({ runId: 'ready', prompt: '', options: poolOptions }, null, 'pool');
  }

  /** Starts a process for the next turn of `sessionId`, with the options of the run that ended. */
  prepareNextTurn(request: RunRequest, sessionId: string): void {
    if (!this.settings.enabled) return;
    if (this.skipNextTurn) {
      this.skipNextTurn = false;
      this.logger.info({ resume: sessionId }, 'ready process released by the host; none started');
      return;
    }
    this.prepare(request, sessionId, 'next-turn');
  }

  /**
   * The host releases this agent's ready process (it bounds how many its containers keep):
   * the one waiting is closed, and during a run (`runInProgress`) the one its end would start
   * is not started. Answers whether a process was waiting or starting.
   */
  release(runInProgress: boolean): boolean {
    const held = this.pending !== null;
    this.close();
    this.skipNextTurn = this.settings.enabled && runInProgress;
    if (held) this.logger.info('ready process released by the host');
    return held;
  }

  /**
   * The ready process for `request`, if it fits: same options, same session, unchanged
   * context files. A process that does not fit is closed.
   */
  async take(request: RunRequest): Promise<ReadyTake> {
    if (!this.settings.enabled) return { process: null, reason: 'disabled' };
    const pending = this.pending;
    this.pending = null;
    if (!pending) return { process: null, reason: 'none' };
    if (pending.idleTimer) clearTimeout(pending.idleTimer);
    const reason = await this.mismatch(pending, request);
    if (reason) {
      this.discard(pending, reason);
      return { process: null, reason };
    }
    const process = await pending.process;
    if (!process) return { process: null, reason: 'start_failed' };
    return { process };
  }

  /** Closes the ready process (the agent stops). */
  close(): void {
    const pending = this.pending;
    this.pending = null;
    if (pending) this.discard(pending, null);
  }

  private async mismatch(
    pending: Pending,
    request: RunRequest,
  ): Promise<ReadyFallbackReason | null> {
    if ((request.resumeSessionId ?? null) !== pending.resume) return 'session_changed';
    if (optionsKey(this.agent, request) !== pending.key) return 'options_changed';
    // A run that comes while the process's read is still going waits for it.
    const [then, now] = await Promise.all([
      pending.fingerprint,
      contextFingerprint(this.agent.workspaceDir),
    ]);
    if (now === null || then === null || now !== then) return 'workspace_changed';
    return null;
  }

  private prepare(request: RunRequest, resume: string | null, purpose: Pending['purpose']): void {
    this.close();
    const basis: RunRequest = { ...request, runId: 'ready', prompt: '' };
    if (resume) basis.resumeSessionId = resume;
    else delete basis.resumeSessionId;
    const abort = new AbortController();
    const sink: StderrSink = { write: () => undefined };
    const pending: Pending = {
      key: optionsKey(this.agent, basis),
      resume,
      purpose,
      // Read before the CLI starts: a file that changes while it starts changes the fingerprint.
      fingerprint: contextFingerprint(this.agent.workspaceDir).catch(() => null),
      process: Promise.resolve(null),
      abort,
      started: false,
      idleTimer: null,
    };
    const started = Date.now();
    pending.process = (async () => {
      await pending.fingerprint;
      const options: Options = sdkOptions(
        this.agent,
        basis,
        { abortController: abort, stderr: (data) => sink.write(data) },
        this.gates,
      );
      const warm = await startup({ options, initializeTimeoutMs: 30_000 });
      return { warm, abort, stderr: sink };
    })().then(
      (process) => {
        pending.started = true;
        this.logger.info(
          { purpose, resume, startMs: Date.now() - started },
          'ready process started',
        );
        return process;
      },
      (err: unknown) => {
        this.logger.warn({ purpose, resume, err }, 'ready process failed to start');
        if (this.pending === pending) this.pending = null;
        return null;
      },
    );
    if (purpose === 'next-turn') {
      pending.idleTimer = setTimeout(() => {
        if (this.pending !== pending) return;
        this.pending = null;
        this.discard(pending, null);
        this.logger.info({ resume, idleMs: this.settings.idleMs }, 'ready process idle; closed');
      }, this.settings.idleMs);
      pending.idleTimer.unref();
    }
    this.pending = pending;
  }

  private discard(pending: Pending, reason: ReadyFallbackReason | null): void {
    if (pending.idleTimer) clearTimeout(pending.idleTimer);
    if (reason) this.logger.info({ purpose: pending.purpose, reason }, 'ready process not used');
    pending.abort.abort();
    void pending.process.then((p) => p?.warm.close());
  }
}

/**
 * The options a process is started with, less the per-run parts (abort controller, stderr
 * callback, session), as a string with sorted keys: two requests share a process only when
 * these are equal. Callbacks are left out and the client tools they offer are named instead.
 */
export function optionsKey(agent: AgentSettings, request: RunRequest): string {
  const { abortController: _a, stderr: _s, resume: _r, ...rest } = sdkOptions(agent, request, {});
  return stableJson({ ...rest, clientTools: request.options?.clientTools ?? [] });
}

function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The ready settings from the agent's environment. */
export function readReadySettings(
  env: NodeJS.ProcessEnv,
  names: { enabled: string; idleMs: string; options: string; firstRun?: string },
  logger: Logger,
): ReadySettings {
  const idle = Number(env[names.idleMs]);
  const parsed = <T>(name: string | undefined, parse: (value: unknown) => T): T | null => {
    const raw = name ? env[name] : undefined;
    if (!raw) return null;
    try {
      return parse(JSON.parse(raw));
    } catch (err) {
      logger.warn({ err }, `${name} is not valid; no process is started ahead for it`);
      return null;
    }
  };
  return {
    enabled: env[names.enabled] !== 'false' && env[names.enabled] !== '0',
    idleMs: Number.isSafeInteger(idle) && idle > 0 ? idle : 300_000,
    poolOptions: parsed(names.options, (v) => runOptionsSchema.parse(v)),
    firstRun: parsed(names.firstRun, (v) => readyBasisSchema.parse(v)),
  };
}
