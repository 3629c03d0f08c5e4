import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { RunEventLog } from '../../src/execute/run-events.js';
import { SessionFeed } from '../../src/managed-agents/session-feed.js';
import type { SessionEvent } from '../../src/managed-agents/translate-events.js';
import { MemoryStateStore } from '../../src/state/memory-store.js';

const logger = pino({ level: 'silent' });

function hostOn(state: MemoryStateStore, ttlMs?: number): SessionFeed {
  return new SessionFeed({
    state,
    events: new RunEventLog(state, { logger, pollMs: 5, finishedCheckMs: 20 }),
    logger,
    ...(ttlMs === undefined ? {} : { ttlMs }),
  });
}

const event = (id: string): SessionEvent => ({ id, type: 'agent.message', processed_at: null });

describe('a session feed shared by several hosts', () => {
  it('keeps every event of every host once, each host in its own order', async () => {
    const state = new MemoryStateStore();
    const [a, b] = [hostOn(state), hostOn(state)];
    const writes: Promise<void>[] = [];
    for (let i = 0; i < 20; i += 1) {
      writes.push(a.append('s1', event(`a${i}`)), b.append('s1', event(`b${i}`)));
    }
    await Promise.all(writes);
    const stored = (await state.readRunEvents('session:s1', 0)).map(
      (e) => (JSON.parse(e.data) as SessionEvent).id,
    );
    expect(stored).toHaveLength(40);
    expect(new Set(stored).size).toBe(40);
    expect(stored.filter((id) => id.startsWith('a'))).toEqual(
      Array.from({ length: 20 }, (_, i) => `a${i}`),
    );
    expect(stored.filter((id) => id.startsWith('b'))).toEqual(
      Array.from({ length: 20 }, (_, i) => `b${i}`),
    );
    expect(await a.tail('s1')).toBe(40);
  });

  it("answers the ids every host published, this host's pending appends included", async () => {
    const state = new MemoryStateStore();
    const [a, b] = [hostOn(state), hostOn(state)];
    await a.append('s3', event('from-a'));
    void b.append('s3', event('from-b-1'));
    void b.append('s3', event('from-b-2'));
    expect(await b.publishedIds('s3')).toEqual(new Set(['from-a', 'from-b-1', 'from-b-2']));
    expect(await a.publishedIds('nothing-yet')).toEqual(new Set());
    // A damaged entry in the store names no event; the others still count.
    await state.appendRunEvent('session:s3', { seq: 4, event: 'message', data: '{not json' });
    await state.appendRunEvent('session:s3', { seq: 5, event: 'message', data: 'null' });
    await a.append('s3', event('after-damage'));
    expect(await a.publishedIds('s3')).toEqual(
      new Set(['from-a', 'from-b-1', 'from-b-2', 'after-damage']),
    );
  });

  it("a follower on one host sees another host's events after the tail it started from", async () => {
    const state = new MemoryStateStore();
    const [a, b] = [hostOn(state), hostOn(state)];
    await a.append('s2', event('before'));
    const abort = new AbortController();
    const seen: string[] = [];
    const following = (async () => {
      for await (const batch of b.follow('s2', await b.tail('s2'), abort.signal, async () => false))
        for (const e of batch) {
          seen.push(e.id);
          if (seen.length === 2) abort.abort();
        }
    })();
    await a.append('s2', event('one'));
    // A damaged entry in the store is skipped, not the end of the stream.
    await state.appendRunEvent('session:s2', { seq: 3, event: 'message', data: '{not json' });
    await b.append('s2', event('two'));
    await following;
    expect(seen).toEqual(['one', 'two']);
  });

  it('ends when the session is gone', async () => {
    const state = new MemoryStateStore();
    const a = hostOn(state);
    const follow = a.follow('s3', 0, new AbortController().signal, async () => true);
    expect((await follow.next()).done).toBe(true);
  });

  it('does not expire while a stream follows it, and does once none does', async () => {
    const state = new MemoryStateStore();
    const feed = hostOn(state, 100);
    await feed.append('followed', event('x'));
    await feed.append('alone', event('y'));
    const abort = new AbortController();
    const following = (async () => {
      for await (const _batch of feed.follow('followed', 1, abort.signal, async () => false));
    })();
    await new Promise((r) => setTimeout(r, 400));
    expect(await feed.tail('followed')).toBe(1);
    expect(await feed.tail('alone')).toBe(0);
    abort.abort();
    await following;
  });
});
