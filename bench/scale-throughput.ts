/**
 * Three hosts against one on this machine: throughput of concurrent one-turn messages. Each
 * set runs on a Redis Cluster and s3rver with hosts as separate processes (own data directory),
 * all on the one Docker engine and its cores, so three hosts cannot be faster; the point is what
 * the cluster costs (goal: at least 0.8x of one host).
 *
 * Each workspace's container is created by a first message (not measured); then every workspace
 * sends BENCH_ROUNDS messages one after another, all workspaces at once, each to the host that
 * holds its container (a load balancer with workspace affinity; any host would serve it, at
 * the price of moving the workspace). Run: npx tsx bench/scale-throughput.ts
 * (BENCH_WORKSPACES default 6, BENCH_ROUNDS default 3).
 */
import { readSse } from '../test/support/sse.js';
import type { ScaleHosts } from '../test/scale/hosts.js';
import { on, pct, round, scaleBench } from './scale-support.js';

const WORKSPACES = Number(process.env.BENCH_WORKSPACES ?? 6);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const PROMPT = 'MOCK:{"text": "one turn"}';

async function measure(set: ScaleHosts): Promise<{ perSecond: number; p50: number; p95: number }> {
  const clients = set.hosts.map((h) => on(h, set.token));
  const conversations = [];
  for (let i = 0; i < WORKSPACES; i += 1) {
    const c = clients[i % clients.length]!;
    conversations.push({ c, ...(await c.conversation()) });
  }
  const send = async (c: (typeof clients)[number], conversationId: string): Promise<number> => {
    const started = performance.now();
    const res = await c.api(`/v1/conversations/${conversationId}/messages`, {
      method: 'POST',
      headers: { accept: 'text/event-stream' },
      body: JSON.stringify({ content: PROMPT }),
    });
    if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
    const events = await readSse(res);
    if (events.at(-1)?.event !== 'run.completed')
      throw new Error(`run ended ${events.at(-1)?.event}: ${events.at(-1)?.data}`);
    return performance.now() - started;
  };
  // Containers first, three at a time.
  for (let i = 0; i < conversations.length; i += 3)
    await Promise.all(
      conversations.slice(i, i + 3).map(({ c, conversationId }) => send(c, conversationId)),
    );

  const latencies: number[] = [];
  const started = performance.now();
  await Promise.all(
    conversations.map(async ({ c, conversationId }) => {
      for (let r = 0; r < ROUNDS; r += 1) latencies.push(await send(c, conversationId));
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return {
    perSecond: latencies.length / seconds,
    p50: pct(latencies, 50),
    p95: pct(latencies, 95),
  };
}

const bench = await scaleBench();
try {
  const one = await bench.start(['solo']);
  let single;
  try {
    single = await measure(one);
  } finally {
    await one.close();
  }
  const three = await bench.start(['a', 'b', 'c']);
  let cluster;
  try {
    cluster = await measure(three);
  } finally {
    await three.close();
  }
  console.log(
    JSON.stringify(
      {
        workspaces: WORKSPACES,
        messages: WORKSPACES * ROUNDS,
        oneHost: {
          messagesPerSecond: round(single.perSecond),
          p50Ms: Math.round(single.p50),
          p95Ms: Math.round(single.p95),
        },
        threeHosts: {
          messagesPerSecond: round(cluster.perSecond),
          p50Ms: Math.round(cluster.p50),
          p95Ms: Math.round(cluster.p95),
        },
        throughputRatio: round(cluster.perSecond / single.perSecond),
      },
      null,
      2,
    ),
  );
} finally {
  await bench.close();
}
