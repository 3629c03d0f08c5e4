import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { GarbageCollector, type GcSettings } from '../../src/containers/gc.js';
import { LABELS } from '../../src/containers/runtime.js';
import { gcLeaseName, LEASES, workspaceLockName } from '../../src/state/leases.js';
import { ManualClock } from '../../src/time/clock.js';
import { RecordingSync, rig, silent, type Rig } from './fakes.js';

const SETTINGS: GcSettings = {
  idleTimeoutMs: 60_000,
  maxLifetimeMs: 3_600_000,
  intervalMs: 1_000_000,
  leaseTtlMs: 60_000,
  runLeaseTtlMs: 30_000,
  graceMs: 40_000,
};

function collector(
  r: Rig,
  sync = new RecordingSync(),
  settings: Partial<GcSettings> = {},
): GarbageCollector {
  return new GarbageCollector({
    containers: r.orchestrator,
    state: r.state,
    runtime: r.runtime,
    slots: r.slots,
    clock: r.clock,
    hostId: 'host-a',
    scope: r.settings,
    sync,
    logger: silent,
    settings: { ...SETTINGS, ...settings },
  });
}

/** A workspace's container, after one finished run. */
async function idleContainer(r: Rig, workspaceId: string) {
  const got = await r.orchestrator.acquire('t1', workspaceId);
  await r.orchestrator.beginRun(got.record.id, `run_${workspaceId}`);
  await r.orchestrator.endRun(got.record.id);
  return got;
}

describe('GarbageCollector', () => {
  let r: Rig;
  afterEach(async () => {
    await r?.close();
  });

  it('syncs an idle container out and then removes it once its idle timeout has passed', async () => {
    r = rig();
    const sync = new RecordingSync();
    const got = await idleContainer(r, 'ws1');
    const gc = collector(r, sync);

    r.clock.advance(SETTINGS.idleTimeoutMs - 1);
    expect((await gc.runOnce()).removed).toEqual([]);

    r.clock.advance(1);
    let presentAtSync: boolean | null = null;
    sync.onSyncOut = () => {
      presentAtSync = r.runtime.containers.has(got.record.id);
    };
    const report = await gc.runOnce();
    expect(report.removed).toEqual([{ id: got.record.id, reason: 'idle timeout' }]);
    expect(sync.outs).toEqual([{ workspaceId: 'ws1', slotId: got.record.slotId }]);
    expect(presentAtSync).toBe(true);
    expect(r.runtime.containers.has(got.record.id)).toBe(false);
    expect(await r.state.getAssignment('ws1')).toBeNull();
    expect(r.slots.exists(got.record.slotId)).toBe(false);
  });

  it('keeps an idle container while its workspace has an open terminal, and retires it after', async () => {
    r = rig();
    const got = await idleContainer(r, 'ws1');
    const gc = collector(r);
    const terminal = LEASES.terminal('ws1');
    expect(await r.state.acquireLease(terminal, 'terminal:host-a:1', 3_600_000)).toBe(true);
    r.clock.advance(SETTINGS.idleTimeoutMs * 10);
    expect((await gc.runOnce()).removed).toEqual([]);
    expect(r.runtime.containers.has(got.record.id)).toBe(true);
    // Retiring for room (capacity) goes through the same check.
    expect(await r.state.getContainer(got.record.id)).toMatchObject({ state: 'idle' });

    await r.state.releaseLease(terminal, 'terminal:host-a:1');
    expect((await gc.runOnce()).removed).toEqual([{ id: got.record.id, reason: 'idle timeout' }]);
  });

  it('never touches a container whose run is in progress, however long past the idle timeout and lifetime', async () => {
    r = rig();
    const got = await r.orchestrator.acquire('t1', 'ws1');
    expect(await r.state.acquireLease(workspaceLockName('ws1'), 'run_1', 30_000)).toBe(true);
    await r.orchestrator.beginRun(got.record.id, 'run_1');
    r.clock.advance(SETTINGS.maxLifetimeMs * 2);
    await r.state.renewLease(workspaceLockName('ws1'), 'run_1', 30_000);

    const report = await collector(r).runOnce();
    expect(report.removed).toEqual([]);
    expect(report.kept).toBe(1);
    expect((await r.state.getContainer(got.record.id))?.state).toBe('running');
  });

  it('leaves an idle container alone while its workspace run lease is held (a run is starting)', async () => {
    r = rig();
    const sync = new RecordingSync();
    const got = await idleContainer(r, 'ws1');
    r.clock.advance(SETTINGS.idleTimeoutMs + 1);
    await r.state.acquireLease(workspaceLockName('ws1'), 'run_next', 30_000);
    const report = await collector(r, sync).runOnce();
    expect(report.removed).toEqual([]);
    expect(sync.outs).toEqual([]);
    expect((await r.state.getContainer(got.record.id))?.state).toBe('idle');
  });

  it('keeps the container when the final sync fails, so no file is lost', async () => {
    r = rig();
    const sync = new RecordingSync();
    sync.failOut = true;
    const got = await idleContainer(r, 'ws1');
    r.clock.advance(SETTINGS.idleTimeoutMs + 1);
    const report = await collector(r, sync).runOnce();
    expect(report.removed).toEqual([]);
    expect((await r.state.getContainer(got.record.id))?.state).toBe('idle');
    expect(r.runtime.containers.has(got.record.id)).toBe(true);
    expect(await r.state.getLeaseHolder(workspaceLockName('ws1'))).toBeNull();
  });

  it('retires an over-age container when idle, before its idle timeout', async () => {
    r = rig();
    const got = await idleContainer(r, 'ws1');
    r.clock.advance(SETTINGS.maxLifetimeMs);
    await r.orchestrator.beginRun(got.record.id, 'run_2');
    await r.orchestrator.endRun(got.record.id);
    const report = await collector(r).runOnce();
    expect(report.removed).toEqual([{ id: got.record.id, reason: 'max lifetime' }]);
  });

  it('puts back into the pool a warm container that a host dying mid-claim left out of it', async () => {
    r = rig();
    const warm = await r.orchestrator.createContainer();
    // The claimer took the id from the pool, then died before claiming the record.
    await r.state.removeWarm(r.orchestrator.pool, warm.id);
    const gc = collector(r);

    r.clock.advance(SETTINGS.graceMs - 1);
    expect((await gc.runOnce()).rebuilt).toEqual([]);
    r.clock.advance(1);
    expect((await gc.runOnce()).rebuilt).toEqual([{ id: warm.id, state: 'warm' }]);
    expect(await r.state.listWarm(r.orchestrator.pool)).toEqual([warm.id]);
    expect((await r.orchestrator.acquire('t1', 'ws1')).record.id).toBe(warm.id);
  });

  it('removes, without syncing it out, a container whose workspace another host took over', async () => {
    r = rig();
    const sync = new RecordingSync();
    const got = await idleContainer(r, 'ws1');
    // Another host took the workspace over and started its own container.
    await r.state.setAssignment('ws1', 'container-on-another-host');
    const gc = collector(r, sync);

    r.clock.advance(SETTINGS.graceMs);
    const report = await gc.runOnce();
    expect(report.removed).toEqual([
      { id: got.record.id, reason: 'superseded: its workspace moved to another container' },
    ]);
    expect(sync.outs).toEqual([]);
    expect(r.runtime.containers.has(got.record.id)).toBe(false);
    expect(await r.state.getAssignment('ws1')).toBe('container-on-another-host');
  });

  it('removes, without syncing it out, a container whose workspace names no container any more (moved, then deleted, while its host was away)', async () => {
    r = rig();
    const sync = new RecordingSync();
    const got = await idleContainer(r, 'ws1');
    // Another host took the workspace over; then the workspace was deleted there.
    await r.state.clearAssignment('ws1', got.record.id);
    const gc = collector(r, sync);

    r.clock.advance(SETTINGS.graceMs - 1);
    expect((await gc.runOnce()).removed).toEqual([]);
    r.clock.advance(1);
    expect((await gc.runOnce()).removed).toEqual([
      { id: got.record.id, reason: 'orphaned: its workspace names no container' },
    ]);
    expect(sync.outs).toEqual([]);
    expect(r.runtime.containers.has(got.record.id)).toBe(false);
  });

  it('removes failed containers and warm ones that stopped', async () => {
    r = rig();
    const failed = await r.orchestrator.acquire('t1', 'ws1');
    await r.orchestrator.markFailed(failed.record.id, 'test');
    const warm = await r.orchestrator.createContainer();
    await r.runtime.kill(warm.id);
    const report = await collector(r).runOnce();
    expect(report.removed).toEqual(
      expect.arrayContaining([
        { id: failed.record.id, reason: 'failed' },
        { id: warm.id, reason: 'warm container stopped' },
      ]),
    );
    expect(r.runtime.containers.size).toBe(0);
  });

  it('removes a labelled container with no state, clears state with no container, and never touches an unlabelled one', async () => {
    r = rig();
    const orphan = await r.runtime.addForeign({
      [LABELS.managed]: 'true',
      [LABELS.dataDir]: r.slots.dataDir,
      [LABELS.slot]: 'corphan01',
    });
    mkdirSync(join(r.slots.root, 'corphan01'));
    const unlabelled = await r.runtime.addForeign({ 'com.example': 'x' });
    const otherInstall = await r.runtime.addForeign({
      [LABELS.managed]: 'true',
      [LABELS.dataDir]: '/elsewhere',
    });
    const ghost = await idleContainer(r, 'ws1');
    await r.runtime.remove(ghost.record.id);
    r.clock.advance(SETTINGS.graceMs);

    const report = await collector(r).runOnce();
    expect(report.removed).toEqual([{ id: orphan, reason: 'orphan: no state' }]);
    expect(report.cleared).toEqual([{ id: ghost.record.id, reason: 'container gone' }]);
    expect(r.runtime.containers.has(orphan)).toBe(false);
    expect(existsSync(join(r.slots.root, 'corphan01'))).toBe(false);
    expect(r.runtime.containers.has(unlabelled)).toBe(true);
    expect(r.runtime.containers.has(otherInstall)).toBe(true);
    expect(await r.state.getContainer(ghost.record.id)).toBeNull();
    expect(await r.state.getAssignment('ws1')).toBeNull();
  });

  it('leaves a labelled container alone while it may still be being created', async () => {
    r = rig();
    const young = await r.runtime.addForeign({
      [LABELS.managed]: 'true',
      [LABELS.dataDir]: r.slots.dataDir,
    });
    const report = await collector(r).runOnce();
    expect(report.removed).toEqual([]);
    expect(r.runtime.containers.has(young)).toBe(true);
  });

  it('rebuilds the state of containers a live host still holds when the state store lost it', async () => {
    r = rig();
    const idle = await idleContainer(r, 'ws1');
    const warm = await r.orchestrator.createContainer();
    await r.state.deleteContainer(warm.id);
    await r.state.deleteContainer(idle.record.id);
    r.clock.advance(SETTINGS.graceMs);

    const report = await collector(r).runOnce();
    expect(report.removed).toEqual([]);
    expect(report.rebuilt).toEqual(
      expect.arrayContaining([
        { id: warm.id, state: 'warm' },
        { id: idle.record.id, state: 'idle' },
      ]),
    );
    expect(await r.state.listWarm(r.orchestrator.pool)).toEqual([warm.id]);
    expect(await r.state.getAssignment('ws1')).toBe(idle.record.id);
  });

  it('removes a run abandoned by a host that died (lease gone, nobody holds the container)', async () => {
    r = rig();
    const got = await r.orchestrator.acquire('t1', 'ws1');
    await r.orchestrator.beginRun(got.record.id, 'run_1');
    await r.listeners.close();
    const gc = collector(r);
    r.clock.advance(SETTINGS.runLeaseTtlMs - 1);
    expect((await gc.runOnce()).removed).toEqual([]);
    r.clock.advance(1);
    expect((await gc.runOnce()).removed).toEqual([
      { id: got.record.id, reason: 'run abandoned by its host' },
    ]);
  });

  it('removes slot directories that no container uses', async () => {
    r = rig();
    await r.slots.create('cleftover01');
    const gc = collector(r);
    expect((await gc.runOnce()).slots).toEqual([]);
    r.clock.advance(SETTINGS.graceMs + 1000);
    expect((await gc.runOnce()).slots).toEqual(['cleftover01']);
  });

  it("collects every tenant's blobs once per pass, and not in a pass another host holds", async () => {
    r = rig();
    let passes = 0;
    const blobs = {
      collectAll: () => {
        passes += 1;
        return Promise.resolve({ deleted: 2, staging: 1, candidates: 3, postponed: false });
      },
    };
    const gc = new GarbageCollector({
      containers: r.orchestrator,
      state: r.state,
      runtime: r.runtime,
      slots: r.slots,
      clock: r.clock,
      hostId: 'host-a',
      scope: r.settings,
      sync: new RecordingSync(),
      blobs,
      logger: silent,
      settings: SETTINGS,
    });
    expect((await gc.runOnce()).blobs).toEqual({
      deleted: 2,
      staging: 1,
      candidates: 3,
      postponed: false,
    });
    expect(passes).toBe(1);
    await r.state.acquireLease(gcLeaseName(r.settings.scopeId), 'another-host', 60_000);
    expect((await gc.runOnce()).skipped).toBe('lease_held');
    expect(passes).toBe(1);
  });

  it('runs one pass at a time across hosts', async () => {
    r = rig();
    await r.state.acquireLease(gcLeaseName(r.settings.scopeId), 'another-host', 60_000);
    const report = await collector(r).runOnce();
    expect(report.skipped).toBe('lease_held');
    await r.state.releaseLease(gcLeaseName(r.settings.scopeId), 'another-host');
    expect((await collector(r).runOnce()).skipped).toBeUndefined();
  });

  it('writes a file left in the slot after the last run to the object store before removal', async () => {
    r = rig();
    const sync = new RecordingSync();
    const got = await idleContainer(r, 'ws1');
    writeFileSync(join(got.slot.workspaceDir, 'late.txt'), 'written after the run');
    const seen: string[] = [];
    sync.onSyncOut = (slot) => {
      if (existsSync(join(slot.workspaceDir, 'late.txt'))) seen.push('late.txt');
    };
    r.clock.advance(SETTINGS.idleTimeoutMs);
    await collector(r, sync).runOnce();
    expect(seen).toEqual(['late.txt']);
  });

  it('runs its periodic passes on the injected clock, and none once stopped', async () => {
    r = rig();
    const clock = new ManualClock();
    const gc = new GarbageCollector({
      containers: r.orchestrator,
      state: r.state,
      runtime: r.runtime,
      slots: r.slots,
      clock,
      hostId: 'host-a',
      scope: r.settings,
      sync: new RecordingSync(),
      logger: silent,
      settings: SETTINGS,
    });
    let passes = 0;
    const runOnce = gc.runOnce.bind(gc);
    gc.runOnce = () => {
      passes += 1;
      return runOnce();
    };

    gc.start();
    await clock.advanceAsync(SETTINGS.intervalMs - 1);
    expect(passes).toBe(0);
    await clock.advanceAsync(1);
    expect(passes).toBe(1);
    await clock.advanceAsync(SETTINGS.intervalMs);
    expect(passes).toBe(2);

    await gc.stop();
    expect(clock.timers).toBe(0);
    await clock.advanceAsync(SETTINGS.intervalMs * 3);
    expect(passes).toBe(2);
  });
});
