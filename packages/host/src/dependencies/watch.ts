import { WorkcellError } from '@workcell/protocol';
import type { Logger } from 'pino';
import type { Clock, Timer } from '../time/clock.js';

/** The stores a host cannot take new work without. */
export type Dependency = 'stateStore' | 'objectStore';

/** One store that stopped answering: since when, and the last error seen. */
export interface Outage {
  dependency: Dependency;
  /** When the first failure of this outage was seen (epoch ms). */
  since: number;
  error: string;
}

export interface DependencyWatchOptions {
  /** Each store's health check (a ping with its own time limit). */
  probes: Record<Dependency, () => Promise<void>>;
  /** Names each store in messages (`Redis at ...`, `S3 bucket ...`). */
  describe: Record<Dependency, string>;
  clock: Clock;
  logger: Logger;
  /** How often the stores are pinged; default 1 s. */
  probeEveryMs?: number;
  /** How long one ping may take before the store counts as down; default 2 s. */
  probeTimeoutMs?: number;
  /** The `Retry-After` of a refusal while a store is down; default 5 s. */
  retryAfterSeconds?: number;
}

/**
 * Knows which of the host's stores is down and since when: each is pinged every second, and a
 * call on a run's path that finds a store unavailable reports it at once. While one is down the
 * host refuses new work (`assertAvailable`: 503 `dependency_unavailable` with `Retry-After`),
 * `/readyz` names it, and work in progress waits for it (`retry.ts`).
 */
export class DependencyWatch {
  private readonly outages = new Map<Dependency, Outage>();
  private timer: Timer | null = null;
  private probing = false;
  private readonly log: Logger;

  constructor(private readonly options: DependencyWatchOptions) {
    this.log = options.logger.child({ component: 'dependencies' });
  }

  /** Starts pinging the stores in the background. */
  start(): void {
    this.timer ??= this.options.clock.every(
      this.options.probeEveryMs ?? 1_000,
      () => void this.probe(),
      { background: true },
    );
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = null;
  }

  /** Pings every store once and records what it answered. */
  async probe(): Promise<void> {
    if (this.probing) return;
    this.probing = true;
    try {
      await Promise.all(
        (Object.keys(this.options.probes) as Dependency[]).map(async (dependency) => {
          try {
            await this.within(this.options.probes[dependency]());
            this.answered(dependency);
          } catch (err) {
            this.failed(dependency, err);
          }
        }),
      );
    } finally {
      this.probing = false;
    }
  }

  private within(promise: Promise<void>): Promise<void> {
    const ms = this.options.probeTimeoutMs ?? 2_000;
    let timer: Timer | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = this.options.clock.after(ms, () => reject(new Error(`no answer within ${ms} ms`)));
    });
    return Promise.race([promise, timeout]).finally(() => timer?.cancel());
  }

  /** A call to `dependency` failed because it is unavailable. */
  failed(dependency: Dependency, err: unknown): void {
    const error = err instanceof Error ? err.message : String(err);
    const known = this.outages.get(dependency);
    if (known) {
      known.error = error;
      return;
    }
    this.outages.set(dependency, { dependency, since: this.options.clock.now(), error });
    this.log.warn({ dependency, error }, 'store unavailable; new work is refused until it is back');
  }

  /** `dependency` answered. */
  answered(dependency: Dependency): void {
    const known = this.outages.get(dependency);
    if (!known) return;
    this.outages.delete(dependency);
    this.log.info(
      { dependency, downMs: this.options.clock.now() - known.since },
      'store available again',
    );
  }

  /** The outage of `dependency`, if it is down. */
  outage(dependency: Dependency): Outage | null {
    return this.outages.get(dependency) ?? null;
  }

  /** Throws 503 `dependency_unavailable` with a retry delay while any store is down. */
  assertAvailable(): void {
    const [first] = this.outages.values();
    if (!first) return;
    throw new WorkcellError(
      'dependency_unavailable',
      `${this.options.describe[first.dependency]} is unavailable since ${new Date(first.since).toISOString()}; new work is refused until it is back`,
      {
        dependency: first.dependency,
        since: new Date(first.since).toISOString(),
        retryAfterSeconds: this.options.retryAfterSeconds ?? 5,
      },
    );
  }
}
