import { afterEach, describe, expect, it, vi } from 'vitest';
import { LocalControlBus } from '../../src/control/control-bus.js';
import { CrossHostControl } from '../../src/control/cross-host.js';
import { rig, silent, type Rig } from '../containers/fakes.js';

/** Resolves on the next turns of the event loop, once published messages have been handled. */
/** Waits (bounded) for what a control message sets going to be done. */
const eventually = (check: () => Promise<void> | void): Promise<void> =>
  vi.waitFor(check, { timeout: 5_000, interval: 10 });

describe('CrossHostControl', () => {
  const rigs: Rig[] = [];
  afterEach(async () => {
    for (const r of rigs.splice(0)) await r.close();
  });

  /** A host: its own data directory and orchestrator, on a shared state store and bus. */
  function host(bus: LocalControlBus, shared?: Rig) {
    const r = rig(shared ? { state: shared.state } : {});
    rigs.push(r);
    const calls = { interrupted: [] as string[], pushed: [] as string[], reloaded: [] as string[] };
    const control = new CrossHostControl({
      bus,
      containers: r.orchestrator,
      state: r.state,
      policies: {
        reloadCached: async (_tenant: string, workspaceId: string) => {
          calls.reloaded.push(workspaceId);
        },
      },
      interruptLocal: (runId) => {
        calls.interrupted.push(runId);
        return runId === 'run-here';
      },
      pushFiles: async (_tenant, workspaceId) => {
        calls.pushed.push(workspaceId);
      },
      logger: silent,
    });
    return { r, control, calls };
  }

  it('hands an interrupt, a files change and an egress change to every host', async () => {
    const bus = new LocalControlBus('h', silent);
    const a = host(bus);
    await a.control.interrupt('run-here');
    await a.control.filesChanged('t1', 'ws1');
    await a.control.egressChanged('t1', 'ws1');
    await eventually(() =>
      expect(a.calls).toEqual({ interrupted: ['run-here'], pushed: ['ws1'], reloaded: ['ws1'] }),
    );
  });

  it("removes a container only on the host whose data directory holds it, clearing the workspace's assignment", async () => {
    const bus = new LocalControlBus('h', silent);
    const owner = host(bus);
    const other = host(bus, owner.r);
    const got = await owner.r.orchestrator.acquire('t1', 'ws1');

    await other.control.removeContainer(got.record, 'workspace deleted');
    expect(await owner.r.state.getAssignment('ws1')).toBeNull();
    await eventually(async () => {
      expect(owner.r.runtime.containers.has(got.record.id)).toBe(false);
      expect(await owner.r.state.getContainer(got.record.id)).toBeNull();
    });
  });
});
