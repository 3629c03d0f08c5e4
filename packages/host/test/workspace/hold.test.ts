import { WorkcellError } from '@workcell/protocol';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { workspaceLockName } from '../../src/state/leases.js';
import { MemoryStateStore } from '../../src/state/memory-store.js';
import { ManualClock } from '../../src/time/clock.js';
import { Workspaces } from '../../src/workspace/hold.js';
import { FakeOrchestrator, FakeSync } from '../execute/harness.js';

/** One row of the failure table each: what becomes of the container, the lock and the caller. */
function setup(options: { admit?: (workspaceId: string) => Promise<void> } = {}) {
  const state = new MemoryStateStore();
  const containers = new FakeOrchestrator();
  const sync = new FakeSync();
  const acquired: string[] = [];
  const workspaces = new Workspaces({
    containers,
    sync,
    state,
    clock: new ManualClock(),
    logger: pino({ level: 'silent' }),
    observer: { containerAcquired: (source) => void acquired.push(source) },
    ...(options.admit ? { admit: options.admit } : {}),
    settings: { lockTtlMs: 30_000 },
  });
  const lockHolder = (): Promise<string | null> => state.getLeaseHolder(workspaceLockName('ws1'));
  return { state, containers, sync, workspaces, lockHolder, acquired };
}

const code = async (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'none',
    (err: unknown) => (err instanceof WorkcellError ? err.code : 'not a WorkcellError'),
  );

describe('holding a workspace for one piece of work', () => {
  it('goes through every step and leaves the container idle, the lock free', async () => {
    const s = setup();
    const hold = await s.workspaces.take('ws1', 'run_1');
    expect(await s.lockHolder()).toBe('run_1');
    await hold?.enter('tenant-a');
    await hold?.begin();
    expect(await hold?.leave({ keep: true, reason: 'a run' })).toBeNull();
    await hold?.release();
    expect(s.containers.calls).toEqual(['acquire', 'beginRun', 'endRun']);
    expect(s.sync.calls).toEqual(['in', 'out']);
    expect(s.acquired).toEqual(['assigned']);
    expect(await s.lockHolder()).toBeNull();
  });

  it('admission refused: no container, the lock never taken, host_at_capacity thrown', async () => {
    const s = setup({
      admit: async () => {
        throw new WorkcellError('host_at_capacity', 'full');
      },
    });
    expect(await code(s.workspaces.take('ws1', 'run_1'))).toBe('host_at_capacity');
    expect(await s.lockHolder()).toBeNull();
    expect(s.containers.calls).toEqual([]);
  });

  it('lock busy: nothing happens, the lock stays with its holder, null answered', async () => {
    const s = setup();
    await s.state.acquireLease(workspaceLockName('ws1'), 'run_other', 30_000);
    expect(await s.workspaces.take('ws1', 'run_1')).toBeNull();
    expect(await s.lockHolder()).toBe('run_other');
    expect(s.containers.calls).toEqual([]);
  });

  it('acquire fails: no container, the lock held until release, container_start_failed', async () => {
    const s = setup();
    s.containers.acquireError = new Error('engine down');
    const hold = await s.workspaces.take('ws1', 'run_1');
    expect(await code(hold!.enter('tenant-a'))).toBe('container_start_failed');
    expect(await s.lockHolder()).toBe('run_1');
    expect(await hold!.leave({ keep: true, reason: 'a run' })).toBeNull();
    await hold!.release();
    expect(s.containers.calls).toEqual(['acquire']);
    expect(s.sync.calls).toEqual([]);
    expect(await s.lockHolder()).toBeNull();
  });

  it('sync in fails: the container is removed, the lock held until release, sync_failed', async () => {
    const s = setup();
    s.sync.inError = new Error('store down');
    const hold = await s.workspaces.take('ws1', 'run_1');
    expect(await code(hold!.enter('tenant-a'))).toBe('sync_failed');
    expect(s.containers.calls).toEqual(['acquire', 'remove']);
    expect(hold!.container).toBeNull();
    expect(await s.lockHolder()).toBe('run_1');
    expect(await hold!.leave({ keep: true, reason: 'a run' })).toBeNull();
    await hold!.release();
    expect(s.containers.calls).toEqual(['acquire', 'remove']);
    expect(s.sync.calls).toEqual(['in']);
    expect(await s.lockHolder()).toBeNull();
  });

  it('a container created for the work is synced in before it starts, once, with the run it starts Claude Code for', async () => {
    const s = setup();
    s.containers.cold = true;
    const hold = await s.workspaces.take('ws1', 'run_1');
    const got = await hold!.enter('tenant-a', { options: { maxTurns: 2 } });
    expect(got.source).toBe('cold');
    expect(s.containers.readyBasis).toEqual({ options: { maxTurns: 2 } });
    await hold!.begin();
    expect(await hold!.leave({ keep: true, reason: 'a run' })).toBeNull();
    await hold!.release();
    expect(s.sync.calls).toEqual(['in', 'out']);
    expect(s.acquired).toEqual(['cold']);
  });

  it('sync in before a new container starts fails: sync_failed, nothing left to remove, the lock held until release', async () => {
    const s = setup();
    s.containers.cold = true;
    s.sync.inError = new Error('store down');
    const hold = await s.workspaces.take('ws1', 'run_1');
    expect(await code(hold!.enter('tenant-a'))).toBe('sync_failed');
    expect(await s.lockHolder()).toBe('run_1');
    expect(await hold!.leave({ keep: true, reason: 'a run' })).toBeNull();
    await hold!.release();
    expect(s.containers.calls).toEqual(['acquire']);
    expect(s.sync.calls).toEqual(['in']);
    expect(await s.lockHolder()).toBeNull();
  });

  it('marking it running fails: the container stays assigned, not synced out, container_failed', async () => {
    const s = setup();
    s.containers.beginResult = false;
    const hold = await s.workspaces.take('ws1', 'run_1');
    await hold!.enter('tenant-a');
    expect(await code(hold!.begin())).toBe('container_failed');
    expect(await hold!.leave({ keep: true, reason: 'a run' })).toBeNull();
    await hold!.release();
    expect(s.containers.calls).toEqual(['acquire', 'beginRun']);
    expect(s.sync.calls).toEqual(['in']);
    expect(await s.lockHolder()).toBeNull();
  });

  it('the work fails and says the container cannot be trusted: synced out, then removed', async () => {
    const s = setup();
    const hold = await s.workspaces.take('ws1', 'run_1');
    await hold!.enter('tenant-a');
    await hold!.begin();
    expect(await hold!.leave({ keep: false, reason: 'a run' })).toBeNull();
    await hold!.release();
    expect(s.containers.calls).toEqual(['acquire', 'beginRun', 'remove']);
    expect(s.sync.calls).toEqual(['in', 'out']);
    expect(await s.lockHolder()).toBeNull();
  });

  it('sync out fails: the container is kept idle whatever the work said, sync_failed answered', async () => {
    const s = setup();
    s.sync.outError = new Error('store down');
    const hold = await s.workspaces.take('ws1', 'run_1');
    await hold!.enter('tenant-a');
    await hold!.begin();
    const error = await hold!.leave({ keep: false, reason: 'a run' });
    expect(error?.code).toBe('sync_failed');
    expect(s.containers.calls).toEqual(['acquire', 'beginRun', 'endRun']);
    expect(await s.lockHolder()).toBe('run_1');
    await hold!.release();
    expect(await s.lockHolder()).toBeNull();
  });

  it('hand-back fails: the container is marked failed and nothing is thrown', async () => {
    const s = setup();
    s.containers.endRun = async () => {
      s.containers.calls.push('endRun');
      throw new Error('state store down');
    };
    const hold = await s.workspaces.take('ws1', 'run_1');
    await hold!.enter('tenant-a');
    await hold!.begin();
    expect(await hold!.leave({ keep: true, reason: 'a run' })).toBeNull();
    await hold!.release();
    expect(s.containers.calls).toEqual(['acquire', 'beginRun', 'endRun', 'markFailed']);
    expect(await s.lockHolder()).toBeNull();
  });

  it('syncs out a container no hold owns only when the lock is free and it is still current', async () => {
    const s = setup();
    const slot = (await s.containers.acquire('tenant-a', 'ws1')).slot;
    expect(
      await s.workspaces.syncOutUnheld('tenant-a', 'ws1', 'terminal_1', slot, async () => true),
    ).toBe(true);
    expect(
      await s.workspaces.syncOutUnheld('tenant-a', 'ws1', 'terminal_1', slot, async () => false),
    ).toBe(true);
    await s.state.acquireLease(workspaceLockName('ws1'), 'run_other', 30_000);
    expect(
      await s.workspaces.syncOutUnheld('tenant-a', 'ws1', 'terminal_1', slot, async () => true),
    ).toBe(false);
    expect(s.sync.calls).toEqual(['out']);
    expect(await s.lockHolder()).toBe('run_other');
  });
});
