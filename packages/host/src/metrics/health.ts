import type { ContainerRuntime } from '../containers/runtime.js';
import type { ContainerRecord, StateStore } from '../state/state-store.js';
import type { ObjectStore } from '../storage/object-store.js';
import type { Dependency, DependencyWatch } from '../dependencies/watch.js';

/** One dependency's answer. */
export interface DependencyCheck {
  ok: boolean;
  /** Why it is not ok. */
  error?: string;
  /** When the store stopped answering (ISO 8601), while it is down. */
  downSince?: string;
}

/** The egress proxy: in the host process, or in its own process under the host's supervision. */
export interface ProxyHealth {
  isolation: 'process' | 'inline';
  /** False while the proxy process is stopped or backing off after dying again and again. */
  ok: boolean;
  state: 'starting' | 'running' | 'restarting' | 'backoff' | 'stopped';
  pid: number | null;
  /** A second proxy process is built and waiting to take over. */
  standby: boolean;
  /** Times the proxy process died and was started again. */
  restarts: number;
  lastExit: { code: number | null; signal: string | null; at: string } | null;
}

export interface HealthReport {
  status: 'ok' | 'degraded';
  docker: DependencyCheck;
  stateStore: DependencyCheck & { kind: string };
  objectStore: DependencyCheck & { kind: string };
  /** `ready`: containers whose agent has a Claude Code process waiting for the next run. */
  pool: { warm: number; assigned: number; running: number; ready: number };
  proxy?: ProxyHealth;
}

export interface ReadinessReport {
  ready: boolean;
  /** False while the host drains for shutdown: a load balancer should send new work elsewhere. */
  accepting: boolean;
  docker: DependencyCheck;
  stateStore: DependencyCheck & { kind: string };
  objectStore: DependencyCheck & { kind: string };
  image: DependencyCheck & { name: string };
  /** Containers on this host; `full` (no room, none idle) makes the host not ready. */
  capacity?: { max: number; used: number; full: boolean };
}

export interface HealthDeps {
  runtime: ContainerRuntime;
  state: StateStore;
  objects: ObjectStore;
  image: string;
  /** False once shutdown has begun. */
  accepting: () => boolean;
  /** How long one dependency may take to answer. */
  timeoutMs?: number;
  /** This host's container capacity. */
  capacity?: () => Promise<{ max: number; used: number; full: boolean }>;
  /**
   * The containers this host counts as its own (hosts that share a StateStore each report their
   * own pool); default every record in the state store.
   */
  containers?: () => Promise<ContainerRecord[]>;
  /** How many of this host's containers have a ready Claude Code process (as last counted, no agent asked). */
  readyAgents?: () => number;
  /** The egress proxy's state. */
  proxy?: () => ProxyHealth;
  /** The host's dependency watch: told of a store that failed its check, asked since when it is down. */
  watch?: Pick<DependencyWatch, 'outage' | 'failed'>;
}

const ASSIGNED_STATES = new Set(['assigned', 'idle', 'paused']);

/**
 * `/health` (DESIGN.md: Docker, state store, object store, pool counts; degraded when a
 * dependency is down) and `/readyz` (the same dependencies plus the workspace image, and not
 * shutting down). Each dependency is checked at the same time, each with a time limit.
 */
export class HealthChecks {
  constructor(private readonly deps: HealthDeps) {}

  async health(): Promise<HealthReport> {
    const { runtime, state, objects } = this.deps;
    const [docker, stateStore, objectStore] = await Promise.all([
      this.check(() => runtime.ping()),
      this.check(() => state.ping()),
      this.check(() => objects.ping()),
    ]);
    let pool = { warm: 0, assigned: 0, running: 0, ready: 0 };
    if (stateStore.ok) {
      // The state store answered its ping: a listing that fails now reports an empty pool rather than fail the health check.
      const list = this.deps.containers ?? (() => state.listContainers());
      const records = await this.within(list()).catch(() => []);
      pool = {
        warm: records.filter((r) => r.state === 'warm').length,
        assigned: records.filter((r) => ASSIGNED_STATES.has(r.state)).length,
        running: records.filter((r) => r.state === 'running').length,
        ready: this.deps.readyAgents?.() ?? 0,
      };
    }
    const proxy = this.deps.proxy?.();
    const ok = docker.ok && stateStore.ok && objectStore.ok && (proxy?.ok ?? true);
    return {
      status: ok ? 'ok' : 'degraded',
      docker,
      stateStore: { kind: state.kind, ...stateStore },
      objectStore: { kind: objects.description, ...objectStore },
      pool,
      ...(proxy ? { proxy } : {}),
    };
  }

  async ready(): Promise<ReadinessReport> {
    const { runtime, state, objects, image } = this.deps;
    const [docker, stateStore, objectStore, imageCheck] = await Promise.all([
      this.check(() => runtime.ping()),
      this.check(() => state.ping()),
      this.check(() => objects.ping()),
      this.check(async () => {
        if (!(await runtime.hasImage(image)))
          throw new Error(`image ${image} is not present (run: workcell image build)`);
      }),
    ]);
    this.noteOutage('stateStore', stateStore);
    this.noteOutage('objectStore', objectStore);
    const accepting = this.deps.accepting();
    const capacity =
      stateStore.ok && this.deps.capacity
        ? await this.within(this.deps.capacity()).catch(() => undefined)
        : undefined;
    return {
      ready:
        accepting &&
        docker.ok &&
        stateStore.ok &&
        objectStore.ok &&
        imageCheck.ok &&
        !(capacity?.full ?? false),
      accepting,
      docker,
      stateStore: { kind: state.kind, ...stateStore },
      objectStore: { kind: objects.description, ...objectStore },
      image: { name: image, ...imageCheck },
      ...(capacity
        ? { capacity: { max: capacity.max, used: capacity.used, full: capacity.full } }
        : {}),
    };
  }

  /**
   * A store that failed its check is down for the watch too (new work is refused at once); one
   * the watch knows to be down is down here too (a ping that just got through does not end an
   * outage the watch has not seen end), with the time it went down.
   */
  private noteOutage(dependency: Dependency, check: DependencyCheck): void {
    const { watch } = this.deps;
    if (!watch) return;
    if (!check.ok) watch.failed(dependency, new Error(check.error ?? 'unavailable'));
    const outage = watch.outage(dependency);
    if (!outage) return;
    check.ok = false;
    check.error ??= outage.error;
    check.downSince = new Date(outage.since).toISOString();
  }

  private async check(fn: () => Promise<unknown>): Promise<DependencyCheck> {
    try {
      await this.within(fn());
      return { ok: true };
    } catch (err) {
      return { ok: false, error: err instanceof Error ? err.message : String(err) };
    }
  }

  private within<T>(promise: Promise<T>): Promise<T> {
    const ms = this.deps.timeoutMs ?? 2_000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  }
}
