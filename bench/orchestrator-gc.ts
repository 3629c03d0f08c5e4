/**
 * GC pass time over 100 containers (goal < 1 s). The 100 containers are faked: their records
 * are real (in the real StateStore, Redis when it answers), their slot directories real, and a
 * runtime stand-in answers `list`/`inspect`/`remove` for them from memory, so the figure is the
 * pass's own logic and state-store traffic, not Docker's. Two passes: a steady one (every
 * container idle within its timeout: all kept) and a retiring one (every container past its
 * idle timeout: run lease, compare-and-set, final sync (a no-op here), removal). Baseline: reading
 * the same state once (one `listContainers` plus one `list`).
 *
 * Run: npx tsx bench/orchestrator-gc.ts (BENCH_CONTAINERS default 100).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GarbageCollector } from '../packages/host/src/containers/gc.js';
import { EgressListeners } from '../packages/host/src/containers/egress-listeners.js';
import { Orchestrator } from '../packages/host/src/containers/orchestrator.js';
import { systemClock, type Clock } from '../packages/host/src/time/clock.js';
import {
  LABELS,
  type ContainerInfo,
  type ExecProcess,
  type ContainerRuntime,
} from '../packages/host/src/containers/runtime.js';
import { dataDirScope } from '../packages/host/src/containers/scope.js';
import { SlotStore } from '../packages/host/src/containers/slots.js';
import { benchState, logger, round, SocketGateway } from './orchestrator-support.js';

const CONTAINERS = Number(process.env.BENCH_CONTAINERS ?? 100);
const IMAGE = 'workcell/workspace:bench';

/** Answers list/inspect/remove for the fake containers; nothing else is called by a pass. */
class ListingRuntime implements ContainerRuntime {
  readonly containers = new Map<string, ContainerInfo>();
  async create(): Promise<string> {
    throw new Error('not used');
  }
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  async pause(): Promise<void> {}
  async unpause(): Promise<void> {}
  async setCpuShares(): Promise<void> {}
  async remove(id: string): Promise<void> {
    this.containers.delete(id);
  }
  async inspect(id: string): Promise<ContainerInfo | null> {
    return this.containers.get(id) ?? null;
  }
  async list(labels: Record<string, string>): Promise<ContainerInfo[]> {
    return [...this.containers.values()].filter((c) =>
      Object.entries(labels).every(([k, v]) => c.labels[k] === v),
    );
  }
  async hasImage(): Promise<boolean> {
    return true;
  }
  async imageId(): Promise<string | null> {
    return 'sha256:bench';
  }
  async ping(): Promise<void> {}
  async exec(): Promise<ExecProcess> {
    throw new Error('not used');
  }

  terminal(): Promise<never> {
    return Promise.reject(new Error('no terminals in this benchmark'));
  }
}

async function main(): Promise<void> {
  const { state, kind, close } = await benchState();
  const dataDir = mkdtempSync(join(tmpdir(), 'workcell-bench-gc-'));
  const slots = new SlotStore(dataDir);
  const runtime = new ListingRuntime();
  const gateway = new SocketGateway();
  let now = Date.now();
  const clock: Clock = { ...systemClock, now: () => now };
  const listeners = new EgressListeners({ gateway, slots, hostId: 'bench', logger });
  const orchestrator = new Orchestrator({
    runtime,
    state,
    slots,
    listeners,
    clock,
    logger,
    settings: {
      image: IMAGE,
      imageVersion: 'bench',
      hostId: 'bench',
      scopeId: dataDirScope(dataDir),
      runtime: 'runc',
      limits: { memoryMb: 256, cpus: 1, pids: 64, nofile: 1024 },
      agentEnv: {},
      startTimeoutMs: 30_000,
    },
  });
  const gc = new GarbageCollector({
    containers: orchestrator,
    state,
    runtime,
    slots,
    clock,
    hostId: 'bench',
    scope: { image: IMAGE, scopeId: dataDirScope(dataDir) },
    sync: { syncIn: async () => undefined, syncOut: async () => undefined },
    logger,
    settings: {
      idleTimeoutMs: 600_000,
      maxLifetimeMs: 14_400_000,
      intervalMs: 60_000,
      leaseTtlMs: 60_000,
      runLeaseTtlMs: 30_000,
      graceMs: 40_000,
    },
  });
  try {
    for (let i = 0; i < CONTAINERS; i += 1) {
      const id = randomBytes(32).toString('hex');
      const slot = await slots.create();
      const workspaceId = `ws-gc-${i}`;
      runtime.containers.set(id, {
        id,
        name: `workcell-${slot.id}`,
        image: IMAGE,
        imageId: 'sha256:bench',
        labels: { ...orchestrator.labelsFor(slot.id, 'direct') },
        running: true,
        paused: false,
        status: 'running',
        exitCode: null,
        oomKilled: false,
        createdAt: new Date(now - 60_000),
        startedAt: new Date(now - 60_000),
      });
      await state.putContainer({
        id,
        slotId: slot.id,
        hostId: 'bench',
        image: IMAGE,
        state: 'idle',
        workspaceId,
        tenant: 'bench',
        createdAt: now - 60_000,
        stateChangedAt: now - 60_000,
        lastRunEndedAt: now - 60_000,
        runId: null,
      });
      await state.setAssignment(workspaceId, id);
      slots.writeAssignment(slot, {
        containerId: id,
        workspaceId,
        tenant: 'bench',
        assignedAt: now - 60_000,
        hostId: 'bench',
        runId: null,
        lastRunEndedAt: now - 60_000,
      });
    }

    // Warm up, then the baseline: reading the state a pass starts from.
    await gc.runOnce();
    const readings: number[] = [];
    for (let i = 0; i < 5; i += 1) {
      const t = performance.now();
      await state.listContainers();
      await runtime.list({ [LABELS.managed]: 'true', [LABELS.dataDir]: slots.dataDir });
      readings.push(performance.now() - t);
    }
    const readMs = Math.min(...readings);

    const steady: number[] = [];
    for (let i = 0; i < 5; i += 1) {
      const t = performance.now();
      const report = await gc.runOnce();
      steady.push(performance.now() - t);
      if (report.kept !== CONTAINERS) throw new Error(`steady pass kept ${report.kept}`);
    }
    const steadyMs = Math.min(...steady);

    now += 601_000;
    const t = performance.now();
    const report = await gc.runOnce();
    const retireMs = performance.now() - t;
    if (report.removed.length !== CONTAINERS)
      throw new Error(`retiring pass removed ${report.removed.length}`);

    const result = {
      bench: 'orchestrator-gc',
      stateStore: kind,
      containers: CONTAINERS,
      fakeRuntime: true,
      readStateMs: round(readMs, 2),
      steadyPassMs: round(steadyMs, 2),
      retiringPassMs: round(retireMs, 1),
      steadyOverRead: round(steadyMs / readMs, 1),
      retiringOverRead: round(retireMs / readMs, 1),
      goalUnder1s: steadyMs < 1000 && retireMs < 1000,
    };
    console.log(JSON.stringify(result));
    console.log(
      `GC over ${CONTAINERS} containers (records in ${kind}, runtime faked): a pass that keeps them all takes ${result.steadyPassMs} ms ` +
        `(${result.steadyOverRead}x reading the state once, ${result.readStateMs} ms); a pass that retires all of them ${result.retiringPassMs} ms (${result.retiringOverRead}x)`,
    );
  } finally {
    await listeners.close();
    await gateway.close();
    await close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
