/**
 * Cross-host interrupt delay: a run on host A, followed on A; the interrupt is sent through
 * host B (over the control bus on a Redis Cluster) or, for the baseline measured in the same
 * run, through A itself. The delay is from sending the interrupt to the run's terminal event on
 * the follower. Run: npx tsx bench/cross-host-interrupt.ts (BENCH_SAMPLES default 15).
 */
import { readSse } from '../test/support/sse.js';
import type { Client } from '../test/orchestrator/support.js';
import { on, pct, round, scaleBench } from './scale-support.js';

const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 15);
const SLEEP = 'MOCK:{"text": "working"}\nMOCK:{"sleep_ms": 60000}\nMOCK:{"text": "never"}';

async function oneInterrupt(
  runOn: Client,
  interruptVia: Client,
  conversationId: string,
): Promise<number> {
  const runId = await runOn.post(conversationId, SLEEP);
  const abort = new AbortController();
  const res = await runOn.api(`/v1/conversations/${conversationId}/runs/${runId}/events`, {
    headers: { accept: 'text/event-stream' },
    signal: abort.signal,
  });
  let sentAt = 0;
  let endedAt = 0;
  await readSse(res, {
    abort,
    stopAfter: (e) => {
      if (e.event === 'message' && sentAt === 0) {
        sentAt = performance.now();
        void interruptVia
          .api(`/v1/conversations/${conversationId}/runs/${runId}/interrupt`, { method: 'POST' })
          .then(async (r) => {
            if (r.status !== 202)
              throw new Error(`interrupt answered ${r.status}: ${await r.text()}`);
          });
      }
      if (e.event === 'run.completed' || e.event === 'run.failed') {
        endedAt = performance.now();
        return true;
      }
      return false;
    },
  });
  return endedAt - sentAt;
}

const bench = await scaleBench();
try {
  const set = await bench.start(['a', 'b']);
  try {
    const [a, b] = set.hosts.map((h) => on(h, set.token)) as [Client, Client];
    const { conversationId } = await a.conversation();
    await a.send(conversationId, 'MOCK:{"text": "container first"}');
    const local: number[] = [];
    const remote: number[] = [];
    for (let i = 0; i < SAMPLES; i += 1) {
      local.push(await oneInterrupt(a, a, conversationId));
      remote.push(await oneInterrupt(a, b, conversationId));
    }
    console.log(
      JSON.stringify(
        {
          samples: SAMPLES,
          sameHost: { p50Ms: round(pct(local, 50), 1), p95Ms: round(pct(local, 95), 1) },
          viaOtherHost: { p50Ms: round(pct(remote, 50), 1), p95Ms: round(pct(remote, 95), 1) },
          ratioP50: round(pct(remote, 50) / pct(local, 50)),
          ratioP95: round(pct(remote, 95) / pct(local, 95)),
        },
        null,
        2,
      ),
    );
  } finally {
    await set.close();
  }
} finally {
  await bench.close();
}
