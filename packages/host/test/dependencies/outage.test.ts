import { WorkcellError } from '@workcell/protocol';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { untilStored } from '../../src/dependencies/retry.js';
import { DependencyWatch } from '../../src/dependencies/watch.js';
import { RunEventLog } from '../../src/execute/run-events.js';
import { MemoryStateStore } from '../../src/state/memory-store.js';
import type { BufferedEvent } from '../../src/state/state-store.js';
import { systemClock } from '../../src/time/clock.js';

const logger = pino({ level: 'silent' });
const unavailable = (): WorkcellError =>
  new WorkcellError('dependency_unavailable', 'Redis at redis://x is unavailable (test)', {
    dependency: 'stateStore',
  });

/** A memory state store whose event appends fail while `down` is true. */
class FlakyStore extends MemoryStateStore {
  down = false;
  appendCalls = 0;
  override async appendRunEvent(runId: string, event: BufferedEvent): Promise<void> {
    this.appendCalls += 1;
    if (this.down) throw unavailable();
    return super.appendRunEvent(runId, event);
  }
}

describe('DependencyWatch', () => {
  it('refuses new work with dependency_unavailable, the store and a retry delay while a store is down, and takes it again once it answers', async () => {
    let redisUp = true;
    const watch = new DependencyWatch({
      probes: {
        stateStore: async () => {
          if (!redisUp) throw unavailable();
        },
        objectStore: async () => undefined,
      },
      describe: { stateStore: 'the state store (Redis)', objectStore: 'the object store' },
      clock: systemClock,
      logger,
    });
    await watch.probe();
    expect(() => watch.assertAvailable()).not.toThrow();

    redisUp = false;
    const before = Date.now();
    await watch.probe();
    const outage = watch.outage('stateStore');
    expect(outage?.since).toBeGreaterThanOrEqual(before);
    expect(outage?.error).toMatch(/Redis/);
    expect(watch.outage('objectStore')).toBeNull();
    let refusal: unknown = null;
    try {
      watch.assertAvailable();
    } catch (err) {
      refusal = err;
    }
    expect(refusal).toBeInstanceOf(WorkcellError);
    expect(refusal).toMatchObject({
      code: 'dependency_unavailable',
      status: 503,
      message: expect.stringMatching(/state store \(Redis\)/),
      details: { dependency: 'stateStore', retryAfterSeconds: 5 },
    });
    // A later failure keeps the outage's start.
    await watch.probe();
    expect(watch.outage('stateStore')?.since).toBe(outage?.since);

    redisUp = true;
    await watch.probe();
    expect(watch.outage('stateStore')).toBeNull();
    expect(() => watch.assertAvailable()).not.toThrow();
  });

  it('counts a store that does not answer within the probe time limit as down', async () => {
    const watch = new DependencyWatch({
      probes: {
        stateStore: () => new Promise(() => undefined),
        objectStore: async () => undefined,
      },
      describe: { stateStore: 'Redis', objectStore: 'S3' },
      clock: systemClock,
      logger,
      probeTimeoutMs: 50,
    });
    await watch.probe();
    expect(watch.outage('stateStore')?.error).toMatch(/no answer within 50 ms/);
  });
});

describe('untilStored', () => {
  it('retries a write while its store is unavailable and answers once it goes through', async () => {
    let calls = 0;
    const value = await untilStored(
      { clock: systemClock, logger, deadlineMs: 5_000 },
      'stateStore',
      'test write',
      async () => {
        calls += 1;
        if (calls < 3) throw unavailable();
        return 'stored';
      },
    );
    expect(value).toBe('stored');
    expect(calls).toBe(3);
  });

  it('gives up at the deadline with the store error, and at once on any other error', async () => {
    const started = Date.now();
    await expect(
      untilStored({ clock: systemClock, logger, deadlineMs: 500 }, 'stateStore', 'w', () =>
        Promise.reject(unavailable()),
      ),
    ).rejects.toMatchObject({ code: 'dependency_unavailable' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(500);
    expect(Date.now() - started).toBeLessThan(2_000);

    let calls = 0;
    await expect(
      untilStored({ clock: systemClock, logger, deadlineMs: 5_000 }, 'objectStore', 'w', () => {
        calls += 1;
        return Promise.reject(new WorkcellError('internal', 'a bug'));
      }),
    ).rejects.toMatchObject({ code: 'internal' });
    expect(calls).toBe(1);
  });

  it("retries a failure caused by its store's outage, and never another dependency's", async () => {
    const { isUnavailable } = await import('../../src/dependencies/retry.js');
    const s3Down = new WorkcellError('dependency_unavailable', 'object store get k: ECONNREFUSED', {
      dependency: 'objectStore',
    });
    const syncFailed = new WorkcellError('sync_failed', 'sync out of /w: object store get k');
    syncFailed.cause = s3Down;
    expect(isUnavailable(syncFailed, 'objectStore')).toBe(true);
    expect(isUnavailable(syncFailed, 'stateStore')).toBe(false);
    expect(
      isUnavailable(new WorkcellError('dependency_unavailable', 'docker is down'), 'stateStore'),
    ).toBe(false);
  });
});

describe('RunEventLog while the state store is away', () => {
  it('buffers every event once, in order, after the store comes back', async () => {
    const state = new FlakyStore();
    const log = new RunEventLog(state, {
      logger,
      retry: { clock: systemClock, logger, deadlineMs: 10_000 },
    });
    log.open('r1');
    log.append('r1', 'run.started', {});
    await new Promise((r) => setTimeout(r, 20));
    state.down = true;
    for (let i = 0; i < 50; i += 1) log.append('r1', 'message', { i });
    await new Promise((r) => setTimeout(r, 600));
    expect(state.appendCalls).toBeGreaterThan(2);
    state.down = false;
    await log.end('r1', 'run.completed', {}, async () => undefined);
    const buffered = await state.readRunEvents('r1', 0);
    expect(buffered.map((e) => e.seq)).toEqual(Array.from({ length: 52 }, (_, i) => i + 1));
  });

  it('counts an event the buffer already holds (a write that timed out yet landed) as written', async () => {
    const state = new MemoryStateStore();
    const log = new RunEventLog(state, {
      logger,
      retry: { clock: systemClock, logger, deadlineMs: 10_000 },
    });
    log.open('r1');
    // The first write lands before the log writes it: as a timed-out write would.
    await state.appendRunEvent('r1', { seq: 1, event: 'run.started', data: '{}' });
    log.append('r1', 'run.started', {});
    log.append('r1', 'message', { a: 1 });
    await log.end('r1', 'run.completed', {}, async () => undefined);
    expect((await state.readRunEvents('r1', 0)).map((e) => e.seq)).toEqual([1, 2, 3]);
  });
});
