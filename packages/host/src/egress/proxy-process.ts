import { fork } from 'node:child_process';
import {
  proxyProcessCommand,
  type AuditRecord,
  type AwsCredentialsProvider,
  type ChildMessage,
  type ParentMessage,
  type ProxyInit,
  type ProxyRequest,
} from '@workcell/proxy';
import type { Logger } from 'pino';
import { systemClock, type Clock, type Timer } from '../time/clock.js';

/** The proxy process as the supervisor drives it (a real `fork`, or a test's fake). */
export interface ProxyChild {
  readonly pid: number | null;
  send(message: ParentMessage): void;
  onMessage(listener: (message: ChildMessage) => void): void;
  onExit(listener: (code: number | null, signal: NodeJS.Signals | null) => void): void;
  kill(signal: NodeJS.Signals): void;
}

export type LaunchProxyChild = () => ProxyChild;

/**
 * Variables the proxy process gets from the host's environment: where to find programs and
 * which roots Node trusts, nothing else. Its settings and credentials come over IPC.
 */
const PASSED_ENV = [
  'PATH',
  'HOME',
  'TZ',
  'LANG',
  'NODE_EXTRA_CA_CERTS',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
];

/** Forks the proxy process on this host's node binary, with an IPC channel. */
export function forkProxyChild(): ProxyChild {
  const command = proxyProcessCommand();
  const env: NodeJS.ProcessEnv = { ...command.env };
  for (const name of PASSED_ENV) if (process.env[name] !== undefined) env[name] = process.env[name];
  const child = fork(command.modulePath, [], {
    execPath: process.execPath,
    execArgv: [...command.execArgv],
    env,
    serialization: 'advanced',
    // Its logs travel over IPC; stderr carries only what Node prints when the process dies.
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  // A send racing the child's death fails here; the exit handler restarts it.
  child.on('error', () => undefined);
  // The host's own servers keep it running; the proxy process never holds it open on exit.
  child.unref();
  child.channel?.unref();
  return {
    get pid() {
      return child.pid ?? null;
    },
    send: (message) => {
      if (child.connected) child.send(message, (err) => void err);
    },
    onMessage: (listener) => child.on('message', (m) => listener(m as ChildMessage)),
    onExit: (listener) => child.once('exit', listener),
    kill: (signal) => {
      child.kill(signal);
    },
  };
}

/** Why a request to the proxy process did not complete. */
export class ProxyUnavailableError extends Error {
  override readonly name = 'ProxyUnavailableError';
}

export type ProxyProcessState = 'starting' | 'running' | 'restarting' | 'backoff' | 'stopped';

/** The proxy process as `/health` shows it. */
export interface ProxyProcessStatus {
  state: ProxyProcessState;
  pid: number | null;
  /** A second process is built and waiting to take over. */
  standby: boolean;
  /** Times the process died and was started again since the host started. */
  restarts: number;
  lastExit: { code: number | null; signal: string | null; at: string } | null;
}

export interface ProxyProcessOptions {
  launch?: LaunchProxyChild;
  init: ProxyInit;
  logger: Logger;
  /** Re-logs the child's lines (the host's root logger, so its own fields are not doubled). */
  childLogger: Logger;
  audit: (record: AuditRecord) => void;
  /** The host's AWS credential chain, asked when the child signs a Bedrock request. */
  credentials?: AwsCredentialsProvider;
  /** Called after each start with its generation (1 for the first), before `start` resolves. */
  started: (generation: number) => Promise<void>;
  /** Called when the process died (not when stopped). */
  died?: (exit: { code: number | null; signal: NodeJS.Signals | null }) => void;
  /** Time the child has to answer `init`. */
  readyTimeoutMs?: number;
  /** Time the child has to answer a request. */
  requestTimeoutMs?: number;
  /** A child that lived at least this long before dying resets the back-off. */
  stableMs?: number;
  /** Restart delays, time limits and how long a child lived. */
  clock?: Clock;
}

/** Delay before the nth consecutive restart: the first at once, then doubling up to 30 s. */
export function restartDelayMs(consecutive: number): number {
  if (consecutive <= 1) return 0;
  return Math.min(30_000, 250 * 2 ** (consecutive - 2));
}

interface Pending {
  resolve: () => void;
  reject: (err: Error) => void;
  timer: Timer;
}

const LEVELS: Record<number, 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal'> = {
  10: 'trace',
  20: 'debug',
  30: 'info',
  40: 'warn',
  50: 'error',
  60: 'fatal',
};

/** One forked proxy process and whether it has answered `init`. */
interface Instance {
  readonly child: ProxyChild;
  /** When it was started, then when it became the active process. */
  since: number;
  ready: boolean;
  /** Settles when it answers `init` (true) or dies or refuses to start (false). */
  readonly settled: Promise<boolean>;
}

/**
 * Runs the proxy process and keeps it running. A second process waits beside it, built and
 * listening nowhere (the standby), so a process that dies (any exit, any signal) is replaced in
 * the time it takes to re-create its listeners, not to start Node. A process that keeps dying
 * young is replaced with a doubling delay (bounded) instead. Every death is logged and counted.
 * Requests go to the active process and fail with `ProxyUnavailableError` when it dies before
 * answering; `started` re-creates what a new active process must hold.
 */
export class ProxyProcess {
  private active: Instance | null = null;
  private standby: Instance | null = null;
  private state: ProxyProcessState = 'stopped';
  private generation = 0;
  private restarts = 0;
  /** Consecutive deaths of active processes that died young. */
  private consecutive = 0;
  /** Consecutive standby processes that died before being used. */
  private standbyFailures = 0;
  private lastExit: ProxyProcessStatus['lastExit'] = null;
  /** Why the last process refused to start (its `fatal` message). */
  private startError: string | null = null;
  private nextRequest = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly timers = new Set<Timer>();
  private stopping: Promise<void> | null = null;
  private readonly launch: LaunchProxyChild;
  private readonly clock: Clock;

  constructor(private readonly options: ProxyProcessOptions) {
    this.launch = options.launch ?? forkProxyChild;
    this.clock = options.clock ?? systemClock;
  }

  /** Starts the first process; rejects when it cannot be built (a bad CA, a bad upstream). */
  async start(): Promise<void> {
    this.state = 'starting';
    const first = this.spawn();
    if (!(await first.settled)) {
      this.state = 'stopped';
      throw new Error(`the egress proxy cannot start: ${this.startError ?? 'it exited'}`);
    }
    await this.promote(first);
    this.replaceStandby(0);
  }

  /** The active process is built and takes requests (also while listeners are re-created). */
  get accepting(): boolean {
    return this.active?.ready ?? false;
  }

  /** The generation of the active process (each promotion adds one). */
  get current(): number {
    return this.generation;
  }

  status(): ProxyProcessStatus {
    return {
      state: this.state,
      pid: this.state === 'running' ? (this.active?.child.pid ?? null) : null,
      standby: this.standby?.ready ?? false,
      restarts: this.restarts,
      lastExit: this.lastExit,
    };
  }

  /** Sends a request to the active process; resolves on its reply. */
  request(message: DistributiveOmit<ProxyRequest, 'requestId'>): Promise<void> {
    const active = this.active;
    if (!active?.ready)
      return Promise.reject(new ProxyUnavailableError('the proxy process is not running'));
    const requestId = this.nextRequest++;
    const timeoutMs = this.options.requestTimeoutMs ?? 10_000;
    return new Promise<void>((resolve, reject) => {
      const timer = this.clock.after(timeoutMs, () => {
        this.pending.delete(requestId);
        reject(new ProxyUnavailableError(`the proxy process did not answer in ${timeoutMs} ms`));
      });
      this.pending.set(requestId, { resolve, reject, timer });
      active.child.send({ ...message, requestId } as ProxyRequest);
    });
  }

  /** Closes every listener and waits for both processes to exit (SIGKILL after `graceMs`). */
  stop(graceMs = 5_000): Promise<void> {
    this.stopping ??= (async () => {
      this.state = 'stopped';
      for (const timer of this.timers) timer.cancel();
      this.timers.clear();
      const instances = [this.active, this.standby].filter((i): i is Instance => i !== null);
      this.active = null;
      this.standby = null;
      this.failPending('the proxy process is stopping');
      await Promise.all(instances.map((i) => this.end(i, graceMs)));
    })();
    return this.stopping;
  }

  private async end(instance: Instance, graceMs: number): Promise<void> {
    const { child } = instance;
    const exited = new Promise<void>((resolve) => child.onExit(() => resolve()));
    if (instance.ready) child.send({ type: 'shutdown', requestId: this.nextRequest++ });
    else child.kill('SIGKILL');
    const timer = this.clock.after(graceMs, () => child.kill('SIGKILL'));
    await exited;
    timer.cancel();
  }

  private after(ms: number, fn: () => void): void {
    const timer = this.clock.after(ms, () => {
      this.timers.delete(timer);
      fn();
    });
    this.timers.add(timer);
  }

  private spawn(): Instance {
    const child = this.launch();
    let settle: (ready: boolean) => void = () => undefined;
    const instance: Instance = {
      child,
      since: this.clock.now(),
      ready: false,
      settled: new Promise<boolean>((resolve) => {
        settle = resolve;
      }),
    };
    const readyTimer = this.clock.after(this.options.readyTimeoutMs ?? 15_000, () => {
      this.options.logger.error({ pid: child.pid }, 'the proxy process did not start in time');
      child.kill('SIGKILL');
    });
    child.onMessage((message) => {
      if (message.type === 'ready') {
        readyTimer.cancel();
        instance.ready = true;
        settle(true);
        return;
      }
      if (message.type === 'fatal') {
        readyTimer.cancel();
        this.startError = message.message;
        this.options.logger.error({ error: message.message }, 'the proxy process cannot start');
        settle(false);
        return;
      }
      this.onMessage(instance, message);
    });
    child.onExit((code, signal) => {
      readyTimer.cancel();
      settle(false);
      instance.ready = false;
      if (this.state === 'stopped') return;
      if (this.active === instance) this.activeDied(instance, code, signal);
      else if (this.standby === instance) this.standbyDied(code, signal);
    });
    child.send({ type: 'init', init: this.options.init });
    return instance;
  }

  /** Makes `instance` the active process and re-creates every listener in it. */
  private async promote(instance: Instance): Promise<void> {
    this.active = instance;
    this.generation += 1;
    const generation = this.generation;
    this.state = generation === 1 ? 'starting' : 'restarting';
    await this.options.started(generation);
    if (this.generation === generation && this.active === instance && !this.stopped())
      this.state = 'running';
  }

  private stopped(): boolean {
    return this.state === 'stopped';
  }

  /** Starts a new standby after `delayMs`, unless one is already waiting. */
  private replaceStandby(delayMs: number): void {
    this.after(delayMs, () => {
      if (this.stopped() || this.standby) return;
      this.standby = this.spawn();
    });
  }

  private standbyDied(code: number | null, signal: NodeJS.Signals | null): void {
    this.standby = null;
    this.standbyFailures += 1;
    const delayMs = Math.max(1_000, restartDelayMs(this.standbyFailures + 1));
    this.options.logger.warn(
      { exitCode: code, signal, delayMs },
      'the standby proxy process died; starting another',
    );
    this.replaceStandby(delayMs);
  }

  private activeDied(instance: Instance, code: number | null, signal: NodeJS.Signals | null): void {
    const lived = this.clock.now() - instance.since;
    this.active = null;
    this.failPending('the proxy process exited');
    this.restarts += 1;
    this.consecutive = lived >= (this.options.stableMs ?? 10_000) ? 1 : this.consecutive + 1;
    this.lastExit = { code, signal, at: new Date(this.clock.now()).toISOString() };
    const delayMs = restartDelayMs(this.consecutive);
    this.options.logger.error(
      { exitCode: code, signal, livedMs: lived, restarts: this.restarts, delayMs },
      'the proxy process died; replacing it',
    );
    if (delayMs >= 1_000)
      this.options.logger.warn(
        { consecutive: this.consecutive, delayMs },
        'the proxy process keeps dying; backing off',
      );
    this.options.died?.({ code, signal });
    this.state = delayMs > 0 ? 'backoff' : 'restarting';
    this.after(delayMs, () => void this.replaceActive());
  }

  /** Promotes the standby (or a new process when none is ready) and starts the next standby. */
  private async replaceActive(): Promise<void> {
    if (this.stopped()) return;
    this.state = 'restarting';
    let next = this.standby;
    this.standby = null;
    if (!next) next = this.spawn();
    // Counted as the active process from now on: its death is a restart like any other.
    this.active = next;
    next.since = this.clock.now();
    if (!(await next.settled)) return;
    if (this.active !== next || this.stopped()) return;
    await this.promote(next);
    this.standbyFailures = 0;
    this.replaceStandby(0);
    this.options.logger.info(
      { pid: next.child.pid, generation: this.generation },
      'the proxy process is running again',
    );
  }

  private failPending(reason: string): void {
    for (const [id, pending] of this.pending) {
      pending.timer.cancel();
      pending.reject(new ProxyUnavailableError(reason));
      this.pending.delete(id);
    }
  }

  private onMessage(instance: Instance, message: ChildMessage): void {
    switch (message.type) {
      case 'reply': {
        if (instance !== this.active) return;
        const pending = this.pending.get(message.requestId);
        if (!pending) return;
        this.pending.delete(message.requestId);
        pending.timer.cancel();
        if (message.error === null) pending.resolve();
        else pending.reject(new Error(message.error));
        return;
      }
      case 'audit':
        this.options.audit(message.record);
        return;
      case 'log':
        this.relog(message.line);
        return;
      case 'credentials':
        this.answerCredentials(instance.child, message.requestId);
        return;
      case 'ready':
      case 'fatal':
        return;
    }
  }

  private answerCredentials(child: ProxyChild, requestId: number): void {
    const provider = this.options.credentials;
    if (!provider) {
      child.send({
        type: 'credentials-reply',
        requestId,
        credentials: null,
        error: 'no AWS credentials are configured',
      });
      return;
    }
    provider().then(
      (credentials) =>
        child.send({ type: 'credentials-reply', requestId, credentials, error: null }),
      (err: unknown) =>
        child.send({
          type: 'credentials-reply',
          requestId,
          credentials: null,
          error: err instanceof Error ? err.message : String(err),
        }),
    );
  }

  private relog(line: string): void {
    let fields: Record<string, unknown>;
    try {
      fields = JSON.parse(line) as Record<string, unknown>;
    } catch {
      this.options.childLogger.warn({ line: line.slice(0, 2_000) }, 'proxy process output');
      return;
    }
    const { level, msg, ...rest } = fields;
    const method = LEVELS[typeof level === 'number' ? level : 30] ?? 'info';
    this.options.childLogger[method](rest, typeof msg === 'string' ? msg : '');
  }
}

/** `Omit` over each member of a union. */
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
