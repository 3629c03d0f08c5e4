/**
 * 50 conversations on 50 workspaces at once, through the HTTP API, real containers and the real
 * SDK against the mock model: runs per second, errors, and time to `run.completed`, against one
 * run alone on the same host (the baseline: what a run costs when nothing else runs).
 *
 * Containers: each workspace's container is cold-started and assigned first (5 at a time, also
 * reported), then every workspace sends one message at the same moment on its assigned
 * container; that second wave is the measured one. Run: npx tsx bench/api-concurrency.ts
 * (BENCH_CONVERSATIONS, default 50).
 */
import { pct, readEvents, round, startBenchHost, type BenchHost } from './api-support.js';

const CONVERSATIONS = Number(process.env.BENCH_CONVERSATIONS ?? 50);
const COLD_CONCURRENCY = 5;
const PROMPT = 'MOCK:{"text": "hello from a busy host"}';

interface Outcome {
  ok: boolean;
  ms: number;
  detail: string;
}

async function message(host: BenchHost, conversationId: string): Promise<Outcome> {
  const started = performance.now();
  try {
    const res = await host.api(`/v1/conversations/${conversationId}/messages`, {
      method: 'POST',
      headers: { accept: 'text/event-stream' },
      body: JSON.stringify({ content: PROMPT }),
    });
    if (res.status !== 200)
      return {
        ok: false,
        ms: performance.now() - started,
        detail: `HTTP ${res.status}: ${await res.text()}`,
      };
    const events = await readEvents(res, started, () => undefined);
    const last = events.at(-1);
    return {
      ok: last?.event === 'run.completed',
      ms: performance.now() - started,
      detail: last ? `${last.event} ${last.data.slice(0, 200)}` : 'no events',
    };
  } catch (err) {
    return { ok: false, ms: performance.now() - started, detail: String(err) };
  }
}

/** Runs `tasks` with at most `limit` in flight. */
async function limited<T>(tasks: (() => Promise<T>)[], limit: number): Promise<T[]> {
  const out: T[] = new Array<T>(tasks.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < tasks.length) {
        const i = next++;
        out[i] = await (tasks[i] as () => Promise<T>)();
      }
    }),
  );
  return out;
}

async function main(): Promise<void> {
  const host = await startBenchHost();
  try {
    // Baseline: one conversation alone, on its assigned container (its first message cold-starts it).
    const alone = await host.conversation();
    await message(host, alone.conversationId);
    const single: number[] = [];
    for (let i = 0; i < 5; i += 1) {
      const o = await message(host, alone.conversationId);
      if (!o.ok) throw new Error(`baseline run failed: ${o.detail}`);
      single.push(o.ms);
    }
    const singleMs = pct(single, 50);

    const conversations = await Promise.all(
      Array.from({ length: CONVERSATIONS }, () => host.conversation()),
    );
    const coldStarted = performance.now();
    const cold = await limited(
      conversations.map((c) => () => message(host, c.conversationId)),
      COLD_CONCURRENCY,
    );
    const coldWallMs = performance.now() - coldStarted;

    const started = performance.now();
    const cpuBefore = process.cpuUsage();
    const wave = await Promise.all(conversations.map((c) => message(host, c.conversationId)));
    const wallMs = performance.now() - started;
    const cpu = process.cpuUsage(cpuBefore);
    const hostCpuMs = (cpu.user + cpu.system) / 1000;

    const errors = wave.filter((o) => !o.ok);
    const times = wave.map((o) => o.ms);
    const runsPerSecond = CONVERSATIONS / (wallMs / 1000);
    const result = {
      conversations: CONVERSATIONS,
      containers: 'assigned (each cold-started beforehand, then reused)',
      singleRunMs: round(singleMs),
      runsPerSecond: round(runsPerSecond),
      errors: errors.length,
      p50ToCompletedMs: round(pct(times, 50)),
      p99ToCompletedMs: round(pct(times, 99)),
      p99OverSingleRun: round(pct(times, 99) / singleMs),
      throughputOverSingleRun: round(runsPerSecond / (1000 / singleMs)),
      /** CPU the host process (API, proxy, sync, SSE) spent per run, and its share of the wave's wall time on one core. */
      hostCpuMsPerRun: round(hostCpuMs / CONVERSATIONS),
      hostCpuShareOfOneCore: round(hostCpuMs / wallMs),
      coldStartWave: {
        concurrency: COLD_CONCURRENCY,
        runsPerSecond: round(CONVERSATIONS / (coldWallMs / 1000)),
        errors: cold.filter((o) => !o.ok).length,
        p99ToCompletedMs: round(
          pct(
            cold.map((o) => o.ms),
            99,
          ),
        ),
      },
      firstErrors: errors.slice(0, 3).map((o) => o.detail),
    };
    console.log(JSON.stringify(result));
    console.log(
      `${CONVERSATIONS} concurrent conversations: ${result.runsPerSecond} runs/s = ${result.throughputOverSingleRun}x one run alone, ` +
        `${result.errors} errors, p99 to run.completed ${result.p99ToCompletedMs} ms = ${result.p99OverSingleRun}x one run alone (${result.singleRunMs} ms); ` +
        `host process ${result.hostCpuMsPerRun} CPU-ms per run (${result.hostCpuShareOfOneCore} of one core); ` +
        `cold-start wave (${COLD_CONCURRENCY} at a time): ${result.coldStartWave.runsPerSecond} runs/s, ${result.coldStartWave.errors} errors`,
    );
  } finally {
    await host.close();
  }
}

await main();
