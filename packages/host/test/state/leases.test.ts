import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { LEASES, leaseHolder, renewEveryMs, takeLease, withLease } from '../../src/state/leases.js';
import { MemoryStateStore } from '../../src/state/memory-store.js';
import { ManualClock } from '../../src/time/clock.js';

const logger = pino({ level: 'silent' });

function setup() {
  const clock = new ManualClock(1_000_000);
  const state = new MemoryStateStore({ now: () => clock.now() });
  return { clock, state, deps: { state, clock, logger } };
}

describe('leases', () => {
  it('names every lease in one place', () => {
    expect(LEASES.workspace('ws_1')).toBe('run:ws_1');
    expect(LEASES.pool('img:1@0123456789abcdef')).toBe('pool:img:1@0123456789abcdef');
    expect(LEASES.gc('0123456789abcdef')).toBe('gc:0123456789abcdef');
    expect(leaseHolder('gc', 'host-a')).toMatch(/^gc:host-a:[0-9a-f]{12}$/);
    expect(renewEveryMs(30_000)).toBe(10_000);
    expect(renewEveryMs(900)).toBe(1000);
  });

  it('holds a lease past its TTL while the work goes on, then releases it', async () => {
    const { clock, state, deps } = setup();
    let finish: () => void = () => undefined;
    const work = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const held = withLease(deps, { name: 'gc', holder: 'me', ttlMs: 3_000 }, () => work);
    await clock.advanceAsync(0);
    for (let i = 0; i < 5; i += 1) await clock.advanceAsync(1_000);
    expect(await state.getLeaseHolder('gc')).toBe('me');
    finish();
    expect(await held).toEqual({ held: true, value: undefined });
    expect(await state.getLeaseHolder('gc')).toBeNull();
    expect(clock.timers).toBe(0);
  });

  it('does not run the work when someone else holds the lease', async () => {
    const { state, deps } = setup();
    await state.acquireLease('gc', 'other', 60_000);
    let ran = false;
    const got = await withLease(deps, { name: 'gc', holder: 'me', ttlMs: 60_000 }, async () => {
      ran = true;
    });
    expect(got).toEqual({ held: false });
    expect(ran).toBe(false);
  });

  it('releases the lease when the work throws', async () => {
    const { state, deps } = setup();
    await expect(
      withLease(deps, { name: 'gc', holder: 'me', ttlMs: 60_000 }, async () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await state.getLeaseHolder('gc')).toBeNull();
  });

  it('takes a lost lease again when asked to (the state store restarted empty)', async () => {
    const { clock, state, deps } = setup();
    const lease = await takeLease(deps, {
      name: 'run:w',
      holder: 'run_1',
      ttlMs: 3_000,
      retake: true,
    });
    await state.releaseLease('run:w', 'run_1');
    await clock.advanceAsync(1_000);
    expect(await state.getLeaseHolder('run:w')).toBe('run_1');
    await lease?.release();
    expect(await state.getLeaseHolder('run:w')).toBeNull();
  });
});
