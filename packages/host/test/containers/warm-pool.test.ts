import { afterEach, describe, expect, it } from 'vitest';
import { WarmPool, type WarmPoolSettings } from '../../src/containers/warm-pool.js';
import { ManualClock } from '../../src/time/clock.js';
import { IMAGE, rig, silent, type Host, type Rig } from './fakes.js';

const SETTINGS: WarmPoolSettings = {
  size: 2,
  intervalMs: 1_000_000,
  parallelCreates: 2,
  leaseTtlMs: 60_000,
};

function pool(
  r: Rig,
  settings: Partial<WarmPoolSettings> = {},
  host: Pick<Host, 'orchestrator' | 'listeners' | 'settings'> = r,
): WarmPool {
  const p = new WarmPool({
    containers: host.orchestrator,
    listeners: host.listeners,
    state: r.state,
    runtime: r.runtime,
    slots: r.slots,
    clock: r.clock,
    logger: silent,
    settings: { ...SETTINGS, ...settings },
    scope: host.settings,
  });
  r.onWarmClaim.add(() => p.kick());
  return p;
}

const creates = (r: Rig): number => r.runtime.calls.filter((c) => c === 'create').length;

describe('WarmPool', () => {
  let r: Rig;
  const pools: WarmPool[] = [];
  afterEach(async () => {
    for (const p of pools.splice(0)) await p.stop();
    await r?.close();
  });

  it('fills to its size and refills in the background after a claim', async () => {
    r = rig();
    const p = pool(r);
    pools.push(p);
    p.start();
    await p.settled();
    expect(await p.warmCount()).toBe(2);
    const before = new Set(await r.state.listWarm(r.orchestrator.pool));
    const createsBefore = creates(r);

    const got = await r.orchestrator.acquire('t1', 'ws1');
    expect(got.source).toBe('warm');
    expect(before.has(got.record.id)).toBe(true);
    await p.settled();
    expect(creates(r)).toBe(createsBefore + 1);
    expect(await p.warmCount()).toBe(2);
  });

  it('with a refill delay, the replacement of a claimed container starts only after it', async () => {
    r = rig();
    const p = new WarmPool({
      containers: r.orchestrator,
      listeners: r.listeners,
      state: r.state,
      runtime: r.runtime,
      slots: r.slots,
      clock: r.clock,
      logger: silent,
      settings: { ...SETTINGS, claimRefillDelayMs: 300 },
      scope: r.settings,
    });
    r.onWarmClaim.add(() => p.claimed());
    pools.push(p);
    p.start();
    await p.settled();
    const createsBefore = creates(r);

    expect((await r.orchestrator.acquire('t1', 'ws1')).source).toBe('warm');
    await p.settled();
    expect(creates(r)).toBe(createsBefore);
    expect(await p.warmCount()).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 400));
    await p.settled();
    expect(creates(r)).toBe(createsBefore + 1);
    expect(await p.warmCount()).toBe(2);
  });

  it('keeps one pool of its size for several hosts on one state store', async () => {
    r = rig();
    const b = r.peer('host-b');
    const p1 = pool(r);
    const p2 = pool(r, {}, b);
    await Promise.all([p1.tick(), p2.tick(), p1.tick()]);
    await Promise.all([p1.tick(), p2.tick()]);
    expect(await p1.warmCount()).toBe(2);
    expect(creates(r)).toBe(2);
  });

  it('drains warm containers of an old image version or build and replaces them', async () => {
    r = rig({ settings: { imageVersion: 'old' } });
    const old = pool(r);
    await old.tick();
    const oldIds = await r.state.listWarm(r.orchestrator.pool);
    expect(oldIds).toHaveLength(2);

    const upgraded = r.peer('host-a-upgraded');
    Object.assign(upgraded.settings, { imageVersion: 'new' });
    const fresh = pool(r, {}, upgraded);
    const tick = await fresh.tick();
    expect(tick.drained.map((d) => d.reason)).toEqual(['old image version', 'old image version']);
    const nowIds = await r.state.listWarm(r.orchestrator.pool);
    expect(nowIds).toHaveLength(2);
    expect(nowIds.some((id) => oldIds.includes(id))).toBe(false);

    // A rebuilt image under the same name (a new image id) drains the pool too.
    r.runtime.imageIds.set(IMAGE, 'sha256:build-2');
    const rebuilt = await fresh.tick();
    expect(rebuilt.drained.map((d) => d.reason)).toEqual(['old image build', 'old image build']);
    expect(await fresh.warmCount()).toBe(2);
  });

  it('replaces a warm container that stopped', async () => {
    r = rig();
    const p = pool(r);
    await p.tick();
    const [dead] = await r.state.listWarm(r.orchestrator.pool);
    await r.runtime.kill(dead as string);
    const tick = await p.tick();
    expect(tick.drained).toEqual([{ id: dead, reason: 'stopped' }]);
    expect(tick.created).toBe(1);
    expect(await p.warmCount()).toBe(2);
  });

  it('backs off after the engine refuses to create, and an empty pool falls back to a cold start', async () => {
    r = rig();
    r.runtime.failCreates = 2;
    const p = pool(r);
    const tick = await p.tick();
    expect(tick.created).toBe(0);
    const attempts = creates(r);
    await p.tick();
    expect(creates(r)).toBe(attempts);

    const got = await r.orchestrator.acquire('t1', 'ws1');
    expect(got.source).toBe('cold');
  });

  it('refills on the injected clock every interval, and not once stopped', async () => {
    r = rig();
    const clock = new ManualClock();
    const p = new WarmPool({
      containers: r.orchestrator,
      listeners: r.listeners,
      state: r.state,
      runtime: r.runtime,
      slots: r.slots,
      clock,
      logger: silent,
      settings: SETTINGS,
      scope: r.settings,
    });
    pools.push(p);
    let ticks = 0;
    const tick = p.tick.bind(p);
    p.tick = () => {
      ticks += 1;
      return tick();
    };

    p.start();
    await p.settled();
    expect(ticks).toBe(1);
    await clock.advanceAsync(SETTINGS.intervalMs - 1);
    expect(ticks).toBe(1);
    await clock.advanceAsync(1);
    await p.settled();
    expect(ticks).toBe(2);

    await p.stop();
    expect(clock.timers).toBe(0);
    await clock.advanceAsync(SETTINGS.intervalMs * 3);
    expect(ticks).toBe(2);
  });
});
