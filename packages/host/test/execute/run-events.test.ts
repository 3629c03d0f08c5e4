import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { RunEventLog, type FinishedRunSource } from '../../src/execute/run-events.js';
import { MemoryStateStore } from '../../src/state/memory-store.js';
import type { BufferedEvent } from '../../src/state/state-store.js';

const logger = pino({ level: 'silent' });
const never: FinishedRunSource = { isFinished: async () => false, readPersisted: async () => [] };

async function take(gen: AsyncGenerator<BufferedEvent[]>): Promise<number[]> {
  const seqs: number[] = [];
  for await (const batch of gen) seqs.push(...batch.map((e) => e.seq));
  return seqs;
}

describe('RunEventLog', () => {
  it('follows a live run from a resume point: what was missed, then live events, each once, in order', async () => {
    const log = new RunEventLog(new MemoryStateStore(), { logger });
    log.open('r1');
    for (let i = 0; i < 5; i += 1) log.append('r1', 'message', { i });
    const followed = take(log.follow('r1', 3, new AbortController().signal, never));
    for (let i = 5; i < 9; i += 1) log.append('r1', 'message', { i });
    await log.end('r1', 'run.completed', {}, async () => undefined);
    expect(await followed).toEqual([4, 5, 6, 7, 8, 9, 10]);
  });

  it('writes every event to the state store buffer, so another host can replay the run', async () => {
    const state = new MemoryStateStore();
    const producer = new RunEventLog(state, { logger });
    producer.open('r1');
    producer.append('r1', 'run.started', {});
    producer.append('r1', 'message', { a: 1 });
    const other = new RunEventLog(state, { logger, pollMs: 10 });
    const followed = take(other.follow('r1', 1, new AbortController().signal, never));
    producer.append('r1', 'message', { a: 2 });
    await producer.end(
      'r1',
      'run.failed',
      { code: 'sdk_error', message: 'x' },
      async () => undefined,
    );
    expect(await followed).toEqual([2, 3, 4]);
    expect((await state.readRunEvents('r1', 0)).map((e) => e.event)).toEqual([
      'run.started',
      'message',
      'message',
      'run.failed',
    ]);
  });

  it('buffers a burst of events in the state store in order, none lost between write loops', async () => {
    const state = new MemoryStateStore();
    const log = new RunEventLog(state, { logger });
    log.open('r1');
    for (let i = 0; i < 1_000; i += 1) {
      log.append('r1', 'message', { i });
      if (i % 97 === 0) await new Promise((r) => setImmediate(r));
    }
    await log.end('r1', 'run.completed', {}, async () => undefined);
    const buffered = await state.readRunEvents('r1', 0);
    expect(buffered.map((e) => e.seq)).toEqual(Array.from({ length: 1_001 }, (_, i) => i + 1));
  });

  it('hands the whole log, terminal event included, to the caller before any follower sees the end', async () => {
    const log = new RunEventLog(new MemoryStateStore(), { logger });
    log.open('r1');
    log.append('r1', 'run.started', {});
    const seen: string[] = [];
    const followed = (async () => {
      for await (const batch of log.follow('r1', 0, new AbortController().signal, never))
        seen.push(...batch.map((e) => e.event));
    })();
    let persisted: string[] = [];
    await log.end('r1', 'run.completed', { ok: true }, async (all) => {
      await new Promise((r) => setTimeout(r, 20));
      persisted = all.map((e) => e.event);
      expect(seen).toEqual(['run.started']);
    });
    await followed;
    expect(persisted).toEqual(['run.started', 'run.completed']);
    expect(seen).toEqual(['run.started', 'run.completed']);
    expect(log.isLive('r1')).toBe(false);
  });

  it('ends a follower of a finished run from the durable log once the buffer has expired', async () => {
    const log = new RunEventLog(new MemoryStateStore(), { logger, pollMs: 5, finishedCheckMs: 5 });
    const persisted: BufferedEvent[] = [1, 2, 3].map((seq) => ({
      seq,
      event: seq === 3 ? 'run.completed' : 'message',
      data: '{}',
    }));
    const seqs = await take(
      log.follow('gone', 1, new AbortController().signal, {
        isFinished: async () => true,
        readPersisted: async () => persisted,
      }),
    );
    expect(seqs).toEqual([2, 3]);
  });

  it('stops following when the client goes away, without touching the run', async () => {
    const log = new RunEventLog(new MemoryStateStore(), { logger });
    log.open('r1');
    log.append('r1', 'run.started', {});
    const abort = new AbortController();
    const followed = take(log.follow('r1', 0, abort.signal, never));
    await new Promise((r) => setTimeout(r, 10));
    abort.abort();
    expect(await followed).toEqual([1]);
    log.append('r1', 'message', {});
    expect((await log.read('r1', 0)).length).toBe(2);
  });

  it('writes again the events a buffer lost after acknowledging them (a failover), so the buffer ends whole and other hosts follow to the end', async () => {
    const store = new ForgetfulStore();
    const log = new RunEventLog(store, { logger });
    log.open('r1');
    for (let i = 0; i < 6; i += 1) log.append('r1', 'message', { i });
    await log.flushed('r1');
    await store.forgetAfter('r1', 2);
    const other = new RunEventLog(store, { logger, pollMs: 5 });
    const followed = take(other.follow('r1', 0, new AbortController().signal, never));
    log.append('r1', 'message', { i: 6 });
    await log.flushed('r1');
    await store.forgetAfter('r1', 0);
    await log.end('r1', 'run.completed', {}, async () => undefined);

    const buffered = await store.readRunEvents('r1', 0);
    expect(buffered.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(buffered.map((e) => e.data)).toEqual((await log.read('r1', 0)).map((e) => e.data));
    expect(await followed).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });
});

/** A state store whose run buffers can lose their newest events, as a failed-over Redis does. */
class ForgetfulStore extends MemoryStateStore {
  private buffers = new MemoryStateStore();

  /** Keeps `runId`'s first `keep` events and loses the rest. */
  async forgetAfter(runId: string, keep: number): Promise<void> {
    const kept = new MemoryStateStore();
    for (const e of await this.buffers.readRunEvents(runId, 0, keep))
      await kept.appendRunEvent(runId, e);
    this.buffers = kept;
  }

  override appendRunEvent(runId: string, event: BufferedEvent): Promise<void> {
    return this.buffers.appendRunEvent(runId, event);
  }

  override readRunEvents(runId: string, afterSeq: number, limit?: number) {
    return this.buffers.readRunEvents(runId, afterSeq, limit);
  }

  override lastRunEventSeq(runId: string): Promise<number> {
    return this.buffers.lastRunEventSeq(runId);
  }
}
