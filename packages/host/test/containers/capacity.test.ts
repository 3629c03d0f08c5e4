import { afterEach, describe, expect, it } from 'vitest';
import { HostCapacity } from '../../src/containers/capacity.js';
import { RecordingSync, rig, silent, type Rig } from './fakes.js';

function capacityOf(r: Rig, max: number, sync = new RecordingSync()): HostCapacity {
  return new HostCapacity({
    containers: r.orchestrator,
    state: r.state,
    slots: r.slots,
    clock: r.clock,
    hostId: 'host-a',
    scope: r.settings,
    sync,
    logger: silent,
    runLeaseTtlMs: 30_000,
    max,
    retryAfterSeconds: 7,
  });
}

/** A workspace's container after one finished run, idle since now. */
async function idleContainer(r: Rig, workspaceId: string) {
  const got = await r.orchestrator.acquire('t1', workspaceId);
  await r.orchestrator.beginRun(got.record.id, `run_${workspaceId}`);
  await r.orchestrator.endRun(got.record.id);
  return got;
}

describe('HostCapacity', () => {
  let r: Rig;
  afterEach(async () => {
    await r?.close();
  });

  it('admits while the host has room, and a workspace whose container is here at any count', async () => {
    r = rig();
    const capacity = capacityOf(r, 2);
    await capacity.admit('ws1');
    await idleContainer(r, 'ws1');
    await capacity.admit('ws2');
    await idleContainer(r, 'ws2');
    expect(await capacity.report()).toEqual({ max: 2, used: 2, retirable: 2, full: false });
    await capacity.admit('ws1');
  });

  it('at capacity, retires the longest-idle container (synced out first) to make room', async () => {
    r = rig();
    const sync = new RecordingSync();
    const capacity = capacityOf(r, 2, sync);
    const first = await idleContainer(r, 'ws1');
    r.clock.advance(1_000);
    const second = await idleContainer(r, 'ws2');

    await capacity.admit('ws3');
    expect(sync.outs).toEqual([{ workspaceId: 'ws1', slotId: first.record.slotId }]);
    expect(r.runtime.containers.has(first.record.id)).toBe(false);
    expect(r.runtime.containers.has(second.record.id)).toBe(true);
    expect(await r.state.getAssignment('ws1')).toBeNull();
  });

  it('answers host_at_capacity with a retry delay when every container has a run, and reports full', async () => {
    r = rig();
    const capacity = capacityOf(r, 1);
    const busy = await r.orchestrator.acquire('t1', 'ws1');
    await r.orchestrator.beginRun(busy.record.id, 'run_1');

    await expect(capacity.admit('ws2')).rejects.toMatchObject({
      code: 'host_at_capacity',
      details: { retryAfterSeconds: 7 },
    });
    expect(await capacity.report()).toEqual({ max: 1, used: 1, retirable: 0, full: true });
    expect(await capacity.roomForWarm()).toBe(0);
  });

  it("counts only this host's containers, not those of hosts with another data directory", async () => {
    r = rig();
    const other = rig({ state: r.state });
    try {
      await idleContainer(other, 'elsewhere');
      const capacity = capacityOf(r, 1);
      expect((await capacity.report()).used).toBe(0);
      await capacity.admit('ws1');
    } finally {
      await other.close();
    }
  });
});
