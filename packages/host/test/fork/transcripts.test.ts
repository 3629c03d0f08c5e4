import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { anchorCandidates } from '../../src/fork/run-anchors.js';
import { forkTranscript, forkedUuids, type TranscriptEntry } from '../../src/fork/transcripts.js';
import type { BufferedEvent } from '../../src/state/state-store.js';

/** A transcript of two turns as the CLI writes it: prompt, answer, prompt, answer. */
function twoTurns(sessionId: string): { entries: TranscriptEntry[]; uuids: string[] } {
  const uuids = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
  const entries = uuids.map((uuid, i) => ({
    type: i % 2 === 0 ? 'user' : 'assistant',
    uuid,
    parentUuid: i === 0 ? null : uuids[i - 1],
    sessionId,
    isSidechain: false,
    cwd: '/workspace',
    timestamp: new Date(1_700_000_000_000 + i * 1000).toISOString(),
    message:
      i % 2 === 0
        ? { role: 'user', content: `prompt ${i / 2 + 1}` }
        : {
            role: 'assistant',
            content: [{ type: 'text', text: `answer ${(i + 1) / 2}` }],
          },
  }));
  return { entries, uuids };
}

describe('forking a transcript with the SDK', () => {
  it('keeps the entries up to the anchor, with fresh uuids that name their source', async () => {
    const source = randomUUID();
    const { entries, uuids } = twoTurns(source);
    const forked = await forkTranscript(source, entries, uuids[1] ?? null);
    expect(forked.sessionId).not.toBe(source);
    const messages = forked.entries.filter((e) => e.type === 'user' || e.type === 'assistant');
    expect(messages.map((e) => e.forkedFrom?.messageUuid)).toEqual(uuids.slice(0, 2));
    expect(messages.every((e) => e.sessionId === forked.sessionId)).toBe(true);
    expect(messages.map((e) => e.uuid)).not.toContain(uuids[0]);
    // The chain holds: the answer's parent is the copied prompt.
    expect(messages[1]?.parentUuid).toBe(messages[0]?.uuid);
    const moved = forkedUuids(forked.entries);
    expect(moved.get(uuids[1] ?? '')).toBe(messages[1]?.uuid);
    expect(moved.has(uuids[2] ?? '')).toBe(false);
  });

  it('copies the whole transcript without an anchor', async () => {
    const source = randomUUID();
    const { entries, uuids } = twoTurns(source);
    const forked = await forkTranscript(source, entries, null);
    const from = forked.entries.map((e) => e.forkedFrom?.messageUuid).filter(Boolean);
    expect(from).toEqual(uuids);
  });

  it('refuses an anchor the transcript does not hold', async () => {
    const source = randomUUID();
    const { entries } = twoTurns(source);
    await expect(forkTranscript(source, entries, randomUUID())).rejects.toThrow();
  });
});

describe("a run's anchor candidates", () => {
  const event = (seq: number, data: unknown): BufferedEvent => ({
    seq,
    event: 'message',
    data: JSON.stringify(data),
  });

  it("are the run's main-chain assistant and user messages, last first", () => {
    const events: BufferedEvent[] = [
      { seq: 1, event: 'run.started', data: '{}' },
      event(2, { type: 'system', subtype: 'init', uuid: 'init' }),
      event(3, { type: 'assistant', uuid: 'a1', parent_tool_use_id: null }),
      event(4, { type: 'user', uuid: 'u1', parent_tool_use_id: null }),
      event(5, { type: 'assistant', uuid: 'sub', parent_tool_use_id: 'toolu_1' }),
      event(6, { type: 'stream_event', uuid: 's1' }),
      event(7, { type: 'assistant', uuid: 'a2', parent_tool_use_id: null }),
      event(8, { type: 'result', uuid: 'r' }),
      { seq: 9, event: 'message', data: 'not json' },
    ];
    expect(anchorCandidates(events)).toEqual(['a2', 'u1', 'a1']);
  });
});
