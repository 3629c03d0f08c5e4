import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_CPU_SHARES, LABELS, WARM_CPU_SHARES } from '../../src/containers/runtime.js';
import { rig, type Rig } from './fakes.js';

describe('Orchestrator', () => {
  let r: Rig;
  afterEach(async () => {
    await r?.close();
  });

  it('gives a new workspace a warm container without creating one, and records the assignment on disk', async () => {
    r = rig();
    const warm = await r.orchestrator.createContainer();
    expect(warm.state).toBe('warm');
    expect(await r.state.listWarm(r.orchestrator.pool)).toEqual([warm.id]);
    const creates = r.runtime.calls.filter((c) => c === 'create').length;

    const got = await r.orchestrator.acquire('t1', 'ws1');
    expect(got.source).toBe('warm');
    expect(got.record.id).toBe(warm.id);
    expect(got.record.state).toBe('assigned');
    expect(r.runtime.calls.filter((c) => c === 'create').length).toBe(creates);
    expect(await r.state.getAssignment('ws1')).toBe(warm.id);
    expect(r.slots.readAssignment(got.slot)).toMatchObject({
      containerId: warm.id,
      workspaceId: 'ws1',
      tenant: 't1',
      hostId: 'host-a',
      runId: null,
    });
    expect([...r.gateway.open.values()].map((e) => e.identity)).toContainEqual({
      workspaceId: 'ws1',
      tenant: 't1',
      containerId: warm.id,
    });
  });

  it('starts a container cold when the pool is empty, labelled with host, image version, data directory and slot', async () => {
    r = rig();
    const got = await r.orchestrator.acquire('t1', 'ws1');
    expect(got.source).toBe('cold');
    const info = await r.runtime.inspect(got.record.id);
    expect(info?.labels).toEqual({
      [LABELS.managed]: 'true',
      [LABELS.pool]: 'direct',
      [LABELS.hostInstance]: 'host-a',
      [LABELS.imageVersion]: '1',
      [LABELS.dataDir]: r.slots.dataDir,
      [LABELS.slot]: got.record.slotId,
    });
  });

  it('gives the ready options to warm pool containers only: a cold one started without a run starts nothing ahead', async () => {
    r = rig({
      settings: {
        agentEnv: { WORKCELL_AGENT_PREWARM: 'true' },
        warmAgentEnv: { WORKCELL_AGENT_READY_OPTIONS: '{}' },
      },
    });
    const cold = await r.orchestrator.acquire('t1', 'ws1');
    expect(cold.source).toBe('cold');
    const warm = await r.orchestrator.createContainer();
    expect(r.runtime.containers.get(warm.id)?.spec.env).toEqual({
      WORKCELL_AGENT_PREWARM: 'true',
      WORKCELL_AGENT_READY_OPTIONS: '{}',
    });
    expect(r.runtime.containers.get(cold.record.id)?.spec.env).toEqual({
      WORKCELL_AGENT_PREWARM: 'true',
    });
  });

  it('syncs a cold container in before it starts, and has its agent start Claude Code for the run', async () => {
    r = rig({ settings: { agentEnv: { WORKCELL_AGENT_PREWARM: 'true' } } });
    const synced: string[] = [];
    const ready = { resumeSessionId: 'session-1', options: { maxTurns: 3 } };
    const got = await r.orchestrator.acquire('t1', 'ws1', {
      syncIn: async (slot) => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        // Nothing started yet: the engine's start waits for the files.
        expect(r.runtime.calls.some((c) => c.startsWith('start:'))).toBe(false);
        synced.push(slot.id);
      },
      ready,
    });
    expect(got).toMatchObject({ source: 'cold', syncedIn: true });
    expect(synced).toEqual([got.record.slotId]);
    expect(r.runtime.containers.get(got.record.id)?.spec.env).toEqual({
      WORKCELL_AGENT_PREWARM: 'true',
      WORKCELL_AGENT_READY_FIRST_RUN: JSON.stringify(ready),
    });

    // A container that is already there is not synced here: the caller syncs it in.
    const again = await r.orchestrator.acquire('t1', 'ws1', {
      syncIn: () => Promise.reject(new Error('not for an assigned container')),
    });
    expect(again.source).toBe('assigned');
    expect(again.syncedIn).toBeFalsy();
  });

  it('leaves no container, slot or record when the sync in before the start fails', async () => {
    r = rig();
    await expect(
      r.orchestrator.acquire('t1', 'ws1', {
        syncIn: () => Promise.reject(new Error('object store down')),
      }),
    ).rejects.toMatchObject({ code: 'container_start_failed' });
    expect(r.runtime.calls.some((c) => c.startsWith('start:'))).toBe(false);
    expect([...r.runtime.containers.keys()]).toEqual([]);
    expect(await r.state.listContainers()).toEqual([]);
    expect(r.slots.list()).toEqual([]);
    expect(await r.state.getAssignment('ws1')).toBeNull();
  });

  it('starts warm pool containers at a low CPU weight and gives a claimed one the default', async () => {
    r = rig();
    const cold = await r.orchestrator.acquire('t1', 'ws-cold', {
      syncIn: () => Promise.resolve(),
    });
    expect(cold.source).toBe('cold');
    expect(r.runtime.containers.get(cold.record.id)?.spec.cpuShares).toBeUndefined();
    const warm = await r.orchestrator.createContainer();
    expect(r.runtime.containers.get(warm.id)?.spec.cpuShares).toBe(WARM_CPU_SHARES);

    const claimed = await r.orchestrator.acquire('t1', 'ws1');
    expect(claimed.record.id).toBe(warm.id);
    await expect
      .poll(() => r.runtime.containers.get(warm.id)?.spec.cpuShares)
      .toBe(DEFAULT_CPU_SHARES);
  });

  it('reuses the assigned container while it answers and replaces it once it does not', async () => {
    r = rig();
    const first = await r.orchestrator.acquire('t1', 'ws1');
    const again = await r.orchestrator.acquire('t1', 'ws1');
    expect(again.source).toBe('assigned');
    expect(again.record.id).toBe(first.record.id);

    await r.runtime.kill(first.record.id);
    const fresh = await r.orchestrator.acquire('t1', 'ws1');
    expect(fresh.source).toBe('cold');
    expect(fresh.record.id).not.toBe(first.record.id);
    expect(await r.runtime.inspect(first.record.id)).toBeNull();
    expect(await r.state.getContainer(first.record.id)).toBeNull();
    expect(r.slots.exists(first.record.slotId)).toBe(false);
  });

  it('drops warm containers that do not answer and claims the next one', async () => {
    r = rig();
    const dead = await r.orchestrator.createContainer();
    const live = await r.orchestrator.createContainer();
    await r.runtime.kill(dead.id);
    const got = await r.orchestrator.acquire('t1', 'ws1');
    expect(got.source).toBe('warm');
    expect(got.record.id).toBe(live.id);
    expect(await r.state.getContainer(dead.id)).toBeNull();
  });

  it('records a run in progress and the end of the last run on the slot, for a rebuild after a restart', async () => {
    r = rig();
    const got = await r.orchestrator.acquire('t1', 'ws1');
    expect(await r.orchestrator.beginRun(got.record.id, 'run_1')).toBe(true);
    expect(r.slots.readAssignment(got.slot)?.runId).toBe('run_1');
    expect(await r.orchestrator.beginRun(got.record.id, 'run_2')).toBe(false);
    r.clock.advance(1000);
    await r.orchestrator.endRun(got.record.id);
    expect(r.slots.readAssignment(got.slot)).toMatchObject({
      runId: null,
      lastRunEndedAt: r.clock.now(),
    });
    expect((await r.state.getContainer(got.record.id))?.state).toBe('idle');
  });

  it("moves the egress listener to the host that claims another host's warm container", async () => {
    r = rig();
    const warm = await r.orchestrator.createContainer();
    const b = r.peer('host-b');
    const got = await b.orchestrator.acquire('t1', 'ws1');
    expect(got.record.id).toBe(warm.id);
    expect(b.listeners.holds(warm.id)).toBe(true);
    expect(b.gateway.open.get(got.slot.egressSocket)?.identity).toEqual({
      workspaceId: 'ws1',
      tenant: 't1',
      containerId: warm.id,
    });
    expect(r.slots.readAssignment(got.slot)?.hostId).toBe('host-b');

    // The creator lets go without closing (closing would unlink host-b's socket)...
    await r.listeners.sweep();
    expect(r.listeners.holds(warm.id)).toBe(false);
    await r.listeners.close();
    expect(b.gateway.open.has(got.slot.egressSocket)).toBe(true);

    // ...and host-b closes its listener when it removes the container.
    await b.orchestrator.remove(warm.id, 'test');
    expect(b.gateway.open.size).toBe(0);
  });

  it('resumes a paused container before reusing it', async () => {
    r = rig();
    const got = await r.orchestrator.acquire('t1', 'ws1');
    await r.orchestrator.beginRun(got.record.id, 'run_1');
    await r.orchestrator.endRun(got.record.id);
    expect(await r.orchestrator.pause(got.record.id)).toBe(true);
    expect((await r.state.getContainer(got.record.id))?.state).toBe('paused');
    const again = await r.orchestrator.acquire('t1', 'ws1');
    expect(again.record.id).toBe(got.record.id);
    expect(r.runtime.calls).toContain(`unpause:${got.record.id}`);
    expect((await r.state.getContainer(got.record.id))?.state).toBe('idle');
  });
});
