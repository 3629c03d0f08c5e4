import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  DockerRuntime,
  EgressListeners,
  GarbageCollector,
  Orchestrator,
  SlotStore,
  WarmPool,
  dataDirScope,
  resolveConfig,
  type AcquiredContainer,
} from '@workcell/host';
import { RedisStateStore } from '../../packages/host/src/state/index.js';
import { deleteKeys } from '../state/harness.js';
import { removeDataDir } from '../support/host.js';
import {
  containersOf,
  newDataDir,
  OffsetClock,
  removeContainersOf,
  SocketGateway,
} from './support.js';
import type { WorkspaceSync } from '../../packages/host/src/containers/workspace-sync.js';

const logger = pino({ level: process.env.WORKCELL_TEST_LOGS ? 'debug' : 'silent' });
const POOL = 8;
const CLAIMS = 20;

/** Two hosts' orchestrators on one Redis, one Docker engine and one data directory. */
describe('warm claims across two orchestrators on one Redis', () => {
  const redisUrl = inject('redisUrl');
  const prefix = `workcell-test:claims:${randomBytes(6).toString('hex')}`;
  const dataDir = newDataDir();
  const clock = new OffsetClock();
  const runtime = new DockerRuntime(logger);
  const slots = new SlotStore(dataDir);
  // The workspace image under test, as the other system tests take it.
  const image = process.env.WORKCELL_IMAGE ?? resolveConfig({}).image;
  const synced: string[] = [];
  const sync: WorkspaceSync = {
    syncIn: async () => undefined,
    syncOut: async (_tenant, workspaceId) => {
      synced.push(workspaceId);
    },
  };
  const hosts = ['claims-a', 'claims-b'].map((hostId) => {
    const state = new RedisStateStore({ url: redisUrl, keyPrefix: prefix });
    const gateway = new SocketGateway();
    const listeners = new EgressListeners({ gateway, slots, hostId, logger });
    const settings = {
      image,
      imageVersion: resolveConfig({}).version,
      hostId,
      scopeId: dataDirScope(dataDir),
      runtime: 'runc' as const,
      limits: { memoryMb: 256, cpus: 1, pids: 128, nofile: 1024 },
      agentEnv: {},
      startTimeoutMs: 60_000,
    };
    const orchestrator = new Orchestrator({
      runtime,
      state,
      slots,
      listeners,
      clock,
      logger,
      settings,
    });
    return { state, gateway, listeners, settings, orchestrator };
  });
  const [a, b] = hosts as [(typeof hosts)[number], (typeof hosts)[number]];

  beforeAll(async () => {
    const pool = new WarmPool({
      containers: a.orchestrator,
      listeners: a.listeners,
      state: a.state,
      runtime,
      slots,
      clock,
      logger,
      settings: { size: POOL, intervalMs: 60_000, parallelCreates: 4, leaseTtlMs: 60_000 },
      scope: a.settings,
    });
    await pool.tick();
  });

  afterAll(async () => {
    for (const h of hosts) {
      await h.listeners.close();
      await h.gateway.close();
    }
    await removeContainersOf(dataDir);
    for (const h of hosts) await h.state.close();
    await deleteKeys(redisUrl, prefix);
    await removeDataDir(dataDir);
  });

  it('hands each warm container to one claim only, and leaves no container behind after release and GC', async () => {
    const pool = await a.state.listWarm(a.orchestrator.pool);
    expect(pool).toHaveLength(POOL);

    const results = await Promise.allSettled(
      Array.from({ length: CLAIMS }, (_, i) =>
        (i % 2 === 0 ? a : b).orchestrator.acquire('tenant', `ws-claim-${i}`),
      ),
    );
    const failures = results
      .filter((r) => r.status === 'rejected')
      .map((r) => String((r as PromiseRejectedResult).reason));
    expect(failures).toEqual([]);
    const acquired = results.map((r) => (r as PromiseFulfilledResult<AcquiredContainer>).value);

    const ids = acquired.map((c) => c.record.id);
    expect(new Set(ids).size).toBe(CLAIMS);
    const warm = acquired.filter((c) => c.source === 'warm').map((c) => c.record.id);
    expect(warm.sort()).toEqual([...pool].sort());
    expect(acquired.filter((c) => c.source === 'cold')).toHaveLength(CLAIMS - POOL);
    for (const [i, c] of acquired.entries()) {
      expect(c.record.workspaceId).toBe(`ws-claim-${i}`);
      expect(await a.state.getAssignment(`ws-claim-${i}`)).toBe(c.record.id);
      expect(slots.readAssignment(c.slot)?.workspaceId).toBe(`ws-claim-${i}`);
    }
    expect(await a.state.listWarm(a.orchestrator.pool)).toEqual([]);

    // Each claim ran one turn and released its container (idle).
    for (const [i, c] of acquired.entries()) {
      const o = (i % 2 === 0 ? a : b).orchestrator;
      expect(await o.beginRun(c.record.id, `run-${i}`)).toBe(true);
      await o.endRun(c.record.id);
    }

    clock.offsetMs = 2 * 3_600_000;
    const gc = new GarbageCollector({
      containers: b.orchestrator,
      state: b.state,
      runtime,
      slots,
      clock,
      hostId: b.settings.hostId,
      scope: b.settings,
      sync,
      logger,
      settings: {
        idleTimeoutMs: 60_000,
        maxLifetimeMs: 14_400_000,
        intervalMs: 60_000,
        leaseTtlMs: 60_000,
        runLeaseTtlMs: 30_000,
        graceMs: 40_000,
      },
    });
    const report = await gc.runOnce();
    expect(report.removed.map((r) => r.id).sort()).toEqual([...ids].sort());
    expect(new Set(report.removed.map((r) => r.reason))).toEqual(new Set(['idle timeout']));
    expect(synced.sort()).toEqual(acquired.map((c) => c.record.workspaceId).sort());
    expect(await containersOf(dataDir)).toEqual([]);
    expect(await a.state.listContainers()).toEqual([]);
    expect(slots.list()).toEqual([]);
  });
});
