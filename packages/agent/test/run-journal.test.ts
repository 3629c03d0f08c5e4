import { describe, expect, it } from 'vitest';
import { JournalGap, RunJournal } from '../src/run-journal.js';

const started = { type: 'run.started' as const, runId: 'run_1' };

async function collect(journal: RunJournal, after: number): Promise<number[]> {
  const seqs: number[] = [];
  for await (const e of journal.follow(after, new AbortController().signal)) seqs.push(e.seq);
  return seqs;
}

describe('RunJournal', () => {
  it('numbers events from 1 and a late follower reads on from where it asks, live to the end', async () => {
    const journal = new RunJournal('run_1');
    journal.push(started);
    journal.push({ type: 'ready', used: false });
    const late = collect(journal, 1);
    journal.push({ type: 'sdk', message: { type: 'assistant' } });
    journal.end();
    expect(await late).toEqual([2, 3]);
    expect(await collect(journal, 0)).toEqual([1, 2, 3]);
  });

  it('drops the oldest events past its bound, and a follower asking for them gets JournalGap', async () => {
    const journal = new RunJournal('run_1', { maxEvents: 2, maxBytes: 1 << 20 });
    for (let i = 0; i < 4; i += 1) journal.push(started);
    journal.end();
    expect(journal.firstKept).toBe(3);
    expect(await collect(journal, 2)).toEqual([3, 4]);
    await expect(collect(journal, 0)).rejects.toBeInstanceOf(JournalGap);
  });
});
