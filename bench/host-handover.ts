/**
 * Host hand-over: what a deploy costs runs in progress.
 *
 * A host (Redis and s3rver shared, as in production) runs RUNS runs at once, each a chain of
 * Bash `sleep 1` tool calls against the mock model, so they go on for a while and emit an event
 * every second or so; every run is followed over SSE. Once all are under way the host gets
 * SIGTERM; then the same host id with the same data directory starts again and adopts them.
 *
 * - SIGTERM -> exit: from the signal to the process's exit (goal <= 5 s).
 * - gap after the new host starts: per run, from the new process being spawned to the first
 *   event after the hand-over reaching the client (goal p50 <= 2 s); also from the new host
 *   answering HTTP, and the whole gap from the last event before the hand-over.
 * - completed: runs that end `run.completed` after the hand-over, of RUNS.
 *
 * Run: npm run build && WORKCELL_IMAGE=... npx tsx bench/host-handover.ts [runs=20] [steps=40]
 */
import { startS3rver } from '../test/support/local-s3.js';
import { startScratchRedis } from '../test/state/redis-server.js';
import { startScaleHosts } from '../test/scale/hosts.js';
import { client, type Client } from '../test/orchestrator/support.js';
import { SseParser, type SseEvent } from '../test/support/sse.js';
import { pct, round } from './scale-support.js';

const RUNS = Number(process.argv[2] ?? 20);
const STEPS = Number(process.argv[3] ?? 40);

/** One run followed by the benchmark: when each of its events reached the client. */
interface Followed {
  conversationId: string;
  runId: string;
  arrivals: Map<number, number>;
  end?: string;
}

const lastSeq = (f: Followed): number => Math.max(0, ...f.arrivals.keys());

function record(f: Followed): (e: SseEvent) => boolean {
  return (e) => {
    const seq = Number(e.id);
    if (!f.arrivals.has(seq)) f.arrivals.set(seq, Date.now());
    if (e.event === 'run.completed' || e.event === 'run.failed') f.end = e.event;
    return false;
  };
}

/** Follows a run after `afterSeq` over one connection until its end or a cut; true at its end. */
async function followOnce(
  c: Client,
  f: Followed,
  onEvent: (e: SseEvent) => boolean,
): Promise<boolean> {
  try {
    const res = await c.api(`/v1/conversations/${f.conversationId}/runs/${f.runId}/events`, {
      headers: { accept: 'text/event-stream', 'last-event-id': String(lastSeq(f)) },
    });
    if (res.status !== 200 || !res.body) return false;
    const reader = res.body.getReader();
    const parser = new SseParser();
    const decoder = new TextDecoder();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return false;
      for (const e of parser.push(decoder.decode(value, { stream: true }))) {
        onEvent(e);
        if (f.end) {
          await reader.cancel();
          return true;
        }
      }
    }
  } catch {
    return false;
  }
}

/** Follows a run through `c` until its end, resuming after every cut. */
async function followToEnd(c: Client, f: Followed, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await followOnce(c, f, record(f)))) {
    if (Date.now() > deadline) throw new Error(`run ${f.runId} did not end in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function main(): Promise<void> {
  const redis = await startScratchRedis();
  const s3 = await startS3rver('workcell-handover');
  const set = await startScaleHosts({
    names: ['a'],
    redisUrl: redis.url,
    s3Endpoint: s3.endpoint,
    s3Bucket: s3.bucket,
    env: {
      WORKCELL_LOG_LEVEL: 'warn',
      WORKCELL_RATE_LIMIT_PER_MINUTE: '0',
      WORKCELL_MAX_CONTAINERS: String(RUNS + 4),
      WORKCELL_CONTAINER_MEMORY_MB: '256',
      WORKCELL_GC_INTERVAL_MS: '3600000',
    },
  });
  try {
    const first = set.hosts[0];
    if (!first) throw new Error('no host');
    const before = client(first.url, set.token);
    const prompt = [
      ...Array.from({ length: STEPS }, () =>
        JSON.stringify({ tool: 'Bash', input: { command: 'sleep 1' } }),
      ),
      JSON.stringify({ text: 'handed over' }),
    ]
      .map((d) => `MOCK:${d}`)
      .join('\n');

    const runs: Followed[] = [];
    for (let i = 0; i < RUNS; i += 1) {
      const { conversationId } = await before.conversation();
      const runId = await before.post(conversationId, prompt);
      runs.push({ conversationId, runId, arrivals: new Map() });
    }
    const firstLegs = runs.map((f) => followOnce(before, f, record(f)));
    // Every run has its container and has finished a tool call or two.
    const underWayBy = Date.now() + 180_000;
    while (runs.some((f) => lastSeq(f) < 6)) {
      if (Date.now() > underWayBy) throw new Error('the runs did not get under way in 180 s');
      await new Promise((r) => setTimeout(r, 200));
    }

    const signalledAt = Date.now();
    await first.process.stop();
    const exitMs = Date.now() - signalledAt;
    await Promise.all(firstLegs);
    const lastBefore = runs.map((f) => ({ seq: lastSeq(f), at: f.arrivals.get(lastSeq(f)) ?? 0 }));

    const spawnedAt = Date.now();
    const next = await set.restart('a');
    const listeningAt = Date.now();
    const after = client(next.url, set.token);
    await Promise.all(runs.map((f) => followToEnd(after, f, 300_000)));

    const gaps = runs.map((f, i) => {
      const b = lastBefore[i] as { seq: number; at: number };
      const firstAfter = f.arrivals.get(b.seq + 1) ?? NaN;
      return {
        fromSpawn: firstAfter - spawnedAt,
        fromListening: firstAfter - listeningAt,
        fromLastEvent: firstAfter - b.at,
      };
    });
    const summary = (xs: number[]) => ({
      p50: round(pct(xs, 50) / 1000),
      p90: round(pct(xs, 90) / 1000),
      max: round(Math.max(...xs) / 1000),
    });
    console.log(
      JSON.stringify(
        {
          runs: RUNS,
          stepsPerRun: STEPS,
          sigtermToExitS: round(exitMs / 1000),
          newHostSpawnToListeningS: round((listeningAt - spawnedAt) / 1000),
          firstEventAfterNewHostSpawnS: summary(gaps.map((g) => g.fromSpawn)),
          firstEventAfterNewHostListeningS: summary(gaps.map((g) => g.fromListening)),
          gapFromLastEventBeforeS: summary(gaps.map((g) => g.fromLastEvent)),
          completed: runs.filter((f) => f.end === 'run.completed').length,
          ends: runs.map((f) => f.end ?? 'none'),
        },
        null,
        2,
      ),
    );
  } finally {
    await set.close();
    await s3.close();
    await redis.dispose();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
