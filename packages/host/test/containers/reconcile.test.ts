import { utimesSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { EgressListeners } from '../../src/containers/egress-listeners.js';
import { Orchestrator } from '../../src/containers/orchestrator.js';
import { reconcile, type ReconcileReport } from '../../src/containers/reconcile.js';
import { workspaceLockName } from '../../src/state/leases.js';
import { MemoryStateStore } from '../../src/state/memory-store.js';
import type { StateStore } from '../../src/state/state-store.js';
import { FakeGateway, RecordingSync, rig, settingsFor, silent, type Rig } from './fakes.js';

/** The same host started again: a new orchestrator (no listeners) on `state`, then reconcile. */
async function restart(
  r: Rig,
  state: StateStore,
  hostId = 'host-a',
  imageVersion = '1',
): Promise<{
  orchestrator: Orchestrator;
  listeners: EgressListeners;
  gateway: FakeGateway;
  report: ReconcileReport;
}> {
  await r.listeners.close();
  const gateway = new FakeGateway();
  const settings = settingsFor(hostId, { imageVersion, scopeId: r.settings.scopeId });
  const listeners = new EgressListeners({ gateway, slots: r.slots, hostId, logger: silent });
  const orchestrator = new Orchestrator({
    runtime: r.runtime,
    state,
    slots: r.slots,
    listeners,
    clock: r.clock,
    logger: silent,
    settings,
  });
  const report = await reconcile({
    containers: orchestrator,
    state,
    runtime: r.runtime,
    slots: r.slots,
    clock: r.clock,
    scope: settings,
    sync: new RecordingSync(),
    logger: silent,
    runLeaseTtlMs: 30_000,
    graceMs: 10_000,
  });
  return { orchestrator, listeners, gateway, report };
}

describe('reconcile at start-up', () => {
  let r: Rig;
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
    await r?.close();
  });

  it('adopts its healthy containers and rebuilds their state from labels and assignment records when the store lost it', async () => {
    r = rig();
    const idle = await r.orchestrator.acquire('t1', 'ws1');
    await r.orchestrator.beginRun(idle.record.id, 'run_1');
    await r.orchestrator.endRun(idle.record.id);
    const warm = await r.orchestrator.createContainer();

    const fresh = new MemoryStateStore({ now: () => r.clock.now() });
    const { orchestrator, listeners, gateway, report } = await restart(r, fresh);
    cleanups.push(
      () => listeners.close(),
      () => gateway.close(),
    );
    expect(report.adopted.sort()).toEqual([idle.record.id, warm.id].sort());
    expect(report.rebuilt.sort()).toEqual([idle.record.id, warm.id].sort());
    expect(report.removed).toEqual([]);
    expect(await fresh.getAssignment('ws1')).toBe(idle.record.id);
    expect(await fresh.getContainer(idle.record.id)).toMatchObject({
      state: 'idle',
      workspaceId: 'ws1',
      tenant: 't1',
      lastRunEndedAt: r.clock.now(),
    });
    expect(await fresh.listWarm(orchestrator.pool)).toEqual([warm.id]);
    expect(listeners.holds(idle.record.id) && listeners.holds(warm.id)).toBe(true);
    expect(gateway.open.get(idle.slot.egressSocket)?.identity).toEqual({
      workspaceId: 'ws1',
      tenant: 't1',
      containerId: idle.record.id,
    });

    const again = await orchestrator.acquire('t1', 'ws1');
    expect(again).toMatchObject({ source: 'assigned', record: { id: idle.record.id } });
  });

  it('removes the container of a run that died with the host and frees its workspace at once', async () => {
    r = rig();
    const got = await r.orchestrator.acquire('t1', 'ws1');
    await r.state.acquireLease(workspaceLockName('ws1'), 'run_1', 30_000);
    await r.orchestrator.beginRun(got.record.id, 'run_1');

    const { listeners, gateway, report } = await restart(r, r.state);
    cleanups.push(
      () => listeners.close(),
      () => gateway.close(),
    );
    expect(report.removed).toEqual([{ id: got.record.id, reason: 'run died with its host' }]);
    expect(report.releasedLeases).toEqual(['ws1']);
    expect(await r.state.getLeaseHolder(workspaceLockName('ws1'))).toBeNull();
    expect(r.runtime.containers.size).toBe(0);
    expect(await r.state.getAssignment('ws1')).toBeNull();
  });

  it('removes a container claimed for a run recorded with none, and leaves the workspace lock to the host that starts the run again', async () => {
    r = rig();
    const got = await r.orchestrator.acquire('t1', 'ws1');
    await r.state.acquireLease(workspaceLockName('ws1'), 'run_1', 30_000);
    await r.orchestrator.beginRun(got.record.id, 'run_1');
    await r.state.putRunAttachment({
      runId: 'run_1',
      tenant: 't1',
      workspaceId: 'ws1',
      conversationId: 'conv_1',
      containerId: '',
      startedAt: r.clock.now(),
      input: { prompt: 'hello' },
    });

    const { listeners, gateway, report } = await restart(r, r.state);
    cleanups.push(
      () => listeners.close(),
      () => gateway.close(),
    );
    expect(report.adopted).toEqual([]);
    expect(report.removed).toEqual([{ id: got.record.id, reason: 'run died with its host' }]);
    expect(report.releasedLeases).toEqual([]);
    expect(await r.state.getLeaseHolder(workspaceLockName('ws1'))).toBe('run_1');
    expect(r.runtime.containers.size).toBe(0);
  });

  it('finds a dead run from the assignment record alone when the state store lost everything', async () => {
    r = rig();
    const got = await r.orchestrator.acquire('t1', 'ws1');
    await r.orchestrator.beginRun(got.record.id, 'run_1');
    const { listeners, gateway, report } = await restart(r, new MemoryStateStore());
    cleanups.push(
      () => listeners.close(),
      () => gateway.close(),
    );
    expect(report.removed).toEqual([{ id: got.record.id, reason: 'run died with its host' }]);
  });

  it("removes its containers of another image version, unhealthy ones and stopped ones, and leaves other hosts' alone", async () => {
    r = rig();
    const idle = await r.orchestrator.acquire('t1', 'ws1');
    const dead = await r.orchestrator.acquire('t1', 'ws2');
    await r.runtime.kill(dead.record.id);
    const b = r.peer('host-b');
    const theirs = await b.orchestrator.createContainer();

    const { listeners, gateway, report } = await restart(r, r.state, 'host-a', '2');
    cleanups.push(
      () => listeners.close(),
      () => gateway.close(),
    );
    expect(report.removed).toEqual(
      expect.arrayContaining([
        { id: idle.record.id, reason: 'other image version' },
        { id: dead.record.id, reason: 'other image version' },
      ]),
    );
    expect(report.removed).toHaveLength(2);
    expect(r.runtime.containers.has(theirs.id)).toBe(true);
    expect(await r.state.getContainer(theirs.id)).not.toBeNull();
  });

  it('clears records whose container is gone and slot directories with no container', async () => {
    r = rig();
    const got = await r.orchestrator.acquire('t1', 'ws1');
    await r.runtime.remove(got.record.id);
    const leftover = await r.slots.create('cleftover02');
    const old = new Date(Date.now() - 60_000);
    utimesSync(leftover.root, old, old);

    const { listeners, gateway, report } = await restart(r, r.state);
    cleanups.push(
      () => listeners.close(),
      () => gateway.close(),
    );
    expect(report.cleared).toEqual([{ id: got.record.id, reason: 'container gone' }]);
    expect(report.slots).toEqual(['cleftover02']);
    expect(await r.state.getAssignment('ws1')).toBeNull();
  });
});
