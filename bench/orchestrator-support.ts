/**
 * Shared set-up of the orchestrator benchmarks: a real Docker runtime, the workspace image, a
 * state store (Redis at BENCH_REDIS_URL or redis://127.0.0.1:6379 under a throwaway key prefix;
 * in-process memory when no Redis answers) and plain Unix-socket egress listeners (the proxy is
 * not what is measured).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { DockerRuntime } from '../packages/host/src/containers/docker-runtime.js';
import type { EgressAttachment, EgressGateway } from '../packages/host/src/containers/egress.js';
import { Orchestrator } from '../packages/host/src/containers/orchestrator.js';
import { EgressListeners } from '../packages/host/src/containers/egress-listeners.js';
import { systemClock } from '../packages/host/src/time/clock.js';
import { LABELS } from '../packages/host/src/containers/runtime.js';
import { dataDirScope } from '../packages/host/src/containers/scope.js';
import { SlotStore } from '../packages/host/src/containers/slots.js';
import { resolveConfig } from '../packages/host/src/config/load.js';
import { MemoryStateStore } from '../packages/host/src/state/memory-store.js';
import { RedisStateStore } from '../packages/host/src/state/redis-store.js';
import type { StateStore } from '../packages/host/src/state/state-store.js';

export const execFileAsync = promisify(execFile);
export const logger = pino({ level: process.env.BENCH_LOG ?? 'silent' });

export async function docker(...args: string[]): Promise<string> {
  const { stdout } = await execFileAsync('docker', args, { maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

export function pct(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] ?? NaN;
}

export const round = (n: number, digits = 2): number => Number(n.toFixed(digits));

export interface BenchState {
  state: StateStore;
  kind: string;
  close(): Promise<void>;
}

/** Redis under a throwaway prefix when it answers, else the in-process store. */
export async function benchState(): Promise<BenchState> {
  const url = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
  const probe = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    connectTimeout: 1000,
  });
  try {
    await probe.connect();
    await probe.ping();
  } catch {
    probe.disconnect();
    return { state: new MemoryStateStore(), kind: 'memory', close: async () => undefined };
  }
  const prefix = `workcell-bench:${randomBytes(6).toString('hex')}`;
  const state = new RedisStateStore({ url, keyPrefix: prefix });
  return {
    state,
    kind: `redis (${url})`,
    async close() {
      await state.close();
      const keys = await probe.keys(`${prefix}:*`);
      if (keys.length > 0) await probe.del(...keys);
      probe.disconnect();
    },
  };
}

/** Egress listeners as plain Unix-socket servers. */
export class SocketGateway implements EgressGateway {
  private readonly servers = new Set<Server>();

  async attach(socketPath: string): Promise<EgressAttachment> {
    const server = createServer((s) => s.destroy());
    rmSync(socketPath, { force: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => resolve());
    });
    this.servers.add(server);
    return {
      setIdentity: () => undefined,
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
  }

  async close(): Promise<void> {
    await Promise.all(
      [...this.servers].map((s) => new Promise<void>((resolve) => s.close(() => resolve()))),
    );
  }
}

export interface BenchRig {
  orchestrator: Orchestrator;
  runtime: DockerRuntime;
  state: StateStore;
  stateKind: string;
  slots: SlotStore;
  image: string;
  dataDir: string;
  close(): Promise<void>;
}

/** An orchestrator on real Docker; `close()` removes every container it made. */
export async function benchRig(): Promise<BenchRig> {
  const config = resolveConfig({});
  const dataDir = mkdtempSync(join(tmpdir(), 'workcell-bench-orch-'));
  const runtime = new DockerRuntime(logger);
  if (!(await runtime.hasImage(config.image)))
    throw new Error(`image ${config.image} is missing: run npx workcell image build`);
  const { state, kind, close } = await benchState();
  const slots = new SlotStore(dataDir);
  const gateway = new SocketGateway();
  const hostId = `bench-${randomBytes(3).toString('hex')}`;
  const listeners = new EgressListeners({ gateway, slots, hostId, logger });
  const orchestrator = new Orchestrator({
    runtime,
    state,
    slots,
    listeners,
    clock: systemClock,
    logger,
    settings: {
      image: config.image,
      imageVersion: config.version,
      hostId,
      scopeId: dataDirScope(dataDir),
      runtime: 'runc',
      limits: { memoryMb: 1024, cpus: 1, pids: 256, nofile: 1024 },
      agentEnv: {},
      startTimeoutMs: 60_000,
    },
  });
  return {
    orchestrator,
    runtime,
    state,
    stateKind: kind,
    slots,
    image: config.image,
    dataDir,
    async close() {
      await listeners.close();
      await gateway.close();
      const ids = await runtime.list({ [LABELS.dataDir]: slots.dataDir });
      await Promise.all(ids.map((c) => runtime.remove(c.id)));
      await close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
