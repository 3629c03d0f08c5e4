import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import {
  ReadyLimit,
  usingReadyLimit,
  warmUnderReadyLimit,
} from '../../src/containers/ready-limit.js';
import type { AcquiredContainer, RunContainers } from '../../src/containers/run-containers.js';
import type { ContainerRecord } from '../../src/state/state-store.js';
import { ManualClock } from '../../src/time/clock.js';

const silent = pino({ level: 'silent' });

/** Agents that hold a ready process until released; `fail` names slots whose agent is gone. */
function agents(fail: Set<string> = new Set()) {
  const released: string[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  return {
    released,
    get maxInFlight() {
      return maxInFlight;
    },
    release: async (slotId: string): Promise<boolean> => {
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await Promise.resolve();
      inFlight -= 1;
      if (fail.has(slotId)) throw new Error('agent socket: ENOENT');
      released.push(slotId);
      return true;
    },
  };
}

function limit(max: number, fake = agents(), clock = new ManualClock(0)) {
  return {
    limit: new ReadyLimit({ max, clock, logger: silent, release: fake.release }),
    fake,
    clock,
  };
}

const record = (slotId: string): ContainerRecord => ({
  id: `c-${slotId}`,
  slotId,
  hostId: 'h',
  image: 'i',
  state: 'warm',
  workspaceId: null,
  tenant: null,
  createdAt: 0,
  stateChangedAt: 0,
  lastRunEndedAt: null,
  runId: null,
});

describe('ReadyLimit: at most max containers keep a ready process, least recently used released first', () => {
  it('releases nothing while the count is within max', async () => {
    const { limit: l, fake } = limit(2);
    await l.use('a');
    await l.use('b');
    expect(fake.released).toEqual([]);
    expect(l.counted).toBe(2);
  });

  it('releases the least recently used when one more would start', async () => {
    const { limit: l, fake, clock } = limit(2);
    await l.use('a');
    clock.advance(10);
    await l.use('b');
    clock.advance(10);
    await l.use('c');
    expect(fake.released).toEqual(['a']);
    expect([l.holds('a'), l.holds('b'), l.holds('c')]).toEqual([false, true, true]);
  });

  it('counts a use as recent: using the older one makes the other the least recently used', async () => {
    const { limit: l, fake } = limit(2);
    await l.use('a');
    await l.use('b');
    await l.use('a');
    await l.use('c');
    expect(fake.released).toEqual(['b']);
  });

  it('using a container it holds releases nothing', async () => {
    const { limit: l, fake } = limit(1);
    await l.use('a');
    await l.use('a');
    expect(fake.released).toEqual([]);
    expect(l.counted).toBe(1);
  });

  it('with max 1, using the other releases the older one', async () => {
    const { limit: l, fake } = limit(1);
    await l.use('a');
    await l.use('b');
    expect(fake.released).toEqual(['a']);
    await l.use('a');
    expect(fake.released).toEqual(['a', 'b']);
    expect(l.counted).toBe(1);
  });

  it('a removed container no longer counts, so the next one releases nothing', async () => {
    const { limit: l, fake } = limit(1);
    await l.use('a');
    l.forget('a');
    await l.use('b');
    expect(fake.released).toEqual([]);
  });

  it('a release that fails is logged and the container stops counting; use never throws', async () => {
    const fake = agents(new Set(['a']));
    const { limit: l } = limit(1, fake);
    await l.use('a');
    await expect(l.use('b')).resolves.toBeUndefined();
    expect(l.holds('a')).toBe(false);
    expect(l.counted).toBe(1);
  });

  it('uses at the same time never count past max', async () => {
    const { limit: l, fake } = limit(2);
    await Promise.all(['a', 'b', 'c', 'd', 'e'].map((s) => l.use(s)));
    expect(l.counted).toBe(2);
    expect(fake.released.sort()).toEqual(['a', 'b', 'c']);
  });
});

describe('the containers under a ReadyLimit', () => {
  it('a piece of work acquires its container only after the least recently used is released', async () => {
    const order: string[] = [];
    const { limit: l } = limit(1, {
      ...agents(),
      release: (slotId) => {
        order.push(`release ${slotId}`);
        return Promise.resolve(true);
      },
    });
    const inner: RunContainers = {
      acquire: (_tenant, workspaceId) => {
        order.push(`acquire ${workspaceId}`);
        return Promise.resolve({ record: record(workspaceId) } as AcquiredContainer);
      },
      reattach: () => Promise.resolve(null),
      beginRun: () => Promise.resolve(true),
      endRun: () => Promise.resolve(),
      remove: () => Promise.resolve(),
      markFailed: () => Promise.resolve(),
    };
    const containers = usingReadyLimit(inner, l);
    await containers.acquire('t', 'x');
    await containers.acquire('t', 'y');
    order.push('work in y');
    expect(order).toEqual(['acquire x', 'acquire y', 'release x', 'work in y']);
  });

  it('a new warm container counts once created: the pool of 2 under max 1 leaves one holder', async () => {
    const { limit: l, fake } = limit(1);
    let n = 0;
    const warm = warmUnderReadyLimit(
      {
        createContainer: () => Promise.resolve(record(`w${(n += 1)}`)),
        remove: () => Promise.resolve(),
      },
      l,
    );
    await Promise.all([warm.createContainer(), warm.createContainer()]);
    expect(l.counted).toBe(1);
    expect(fake.released).toEqual(['w1']);
  });
});
