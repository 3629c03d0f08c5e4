/**
 * Message -> `run.started` and message -> first SDK message through the HTTP API, on a warm
 * container (the workspace's already-assigned one), against the floor: a run started directly
 * on the same container's agent socket (AgentClient.run), no API, no lease, no sync. The two
 * kinds of run alternate so both see the same machine noise. Each API run is the first message
 * of a new conversation in the same workspace, so neither kind resumes an SDK session. Run:
 * npx tsx bench/api-latency.ts (BENCH_RUNS, default 30).
 */
import { randomBytes } from 'node:crypto';
import { AgentClient } from '../packages/host/src/containers/agent-client.js';
import { pct, readEvents, round, startBenchHost } from './api-support.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 30);
const PROMPT = 'MOCK:{"text": "hi"}';

async function main(): Promise<void> {
  const host = await startBenchHost();
  try {
    const { workspaceId, conversationId } = await host.conversation();
    // The first message assigns (cold-starts) the workspace's container; it is not measured.
    const warmup = await host.api(`/v1/conversations/${conversationId}/messages`, {
      method: 'POST',
      headers: { accept: 'text/event-stream' },
      body: JSON.stringify({ content: PROMPT }),
    });
    await readEvents(warmup, performance.now(), () => undefined);
    const record = await host.workcell.orchestrator.assigned(workspaceId);
    if (!record) throw new Error('no container was assigned');
    const agent = new AgentClient(host.workcell.slots.slot(record.slotId).agentSocket);

    const api = { started: [] as number[], first: [] as number[] };
    const bare = { started: [] as number[], first: [] as number[] };
    for (let i = 0; i < RUNS; i += 1) {
      const fresh = await host.json<{ id: string }>(`/v1/workspaces/${workspaceId}/conversations`, {
        method: 'POST',
        body: '{}',
      });
      let started = NaN;
      let first = NaN;
      const t0 = performance.now();
      const res = await host.api(`/v1/conversations/${fresh.id}/messages`, {
        method: 'POST',
        headers: { accept: 'text/event-stream' },
        body: JSON.stringify({ content: PROMPT }),
      });
      const events = await readEvents(res, t0, (e, ms) => {
        if (e.event === 'run.started' && Number.isNaN(started)) started = ms;
        if (e.event === 'message' && Number.isNaN(first)) first = ms;
      });
      if (events.at(-1)?.event !== 'run.completed')
        throw new Error(`API run ${i} did not complete: ${events.at(-1)?.data ?? ''}`);
      api.started.push(started);
      api.first.push(first);

      started = NaN;
      first = NaN;
      const t1 = performance.now();
      let completed = false;
      for await (const e of agent.run({
        runId: `bench_${randomBytes(6).toString('hex')}`,
        prompt: PROMPT,
      })) {
        const ms = performance.now() - t1;
        if (e.type === 'run.started' && Number.isNaN(started)) started = ms;
        if (e.type === 'sdk' && Number.isNaN(first)) first = ms;
        if (e.type === 'run.completed') completed = true;
      }
      if (!completed) throw new Error(`bare run ${i} did not complete`);
      bare.started.push(started);
      bare.first.push(first);
    }

    const summary = (list: number[]): { p50: number; p99: number } => ({
      p50: round(pct(list, 50)),
      p99: round(pct(list, 99)),
    });
    const result = {
      runs: RUNS,
      container: 'warm (the workspace already has its assigned container)',
      apiRunStartedMs: summary(api.started),
      apiFirstMessageMs: summary(api.first),
      bareRunStartedMs: summary(bare.started),
      bareFirstMessageMs: summary(bare.first),
      runStartedOverBare: {
        p50: round(pct(api.started, 50) / pct(bare.started, 50)),
        p99: round(pct(api.started, 99) / pct(bare.started, 99)),
      },
      firstMessageOverBare: {
        p50: round(pct(api.first, 50) / pct(bare.first, 50)),
        p99: round(pct(api.first, 99) / pct(bare.first, 99)),
      },
      apiOverheadFirstMessageMs: { p50: round(pct(api.first, 50) - pct(bare.first, 50)) },
    };
    console.log(JSON.stringify(result));
    console.log(
      `message -> run.started p50 ${result.apiRunStartedMs.p50} ms (p99 ${result.apiRunStartedMs.p99}) = ${result.runStartedOverBare.p50}x a bare agent run's start; ` +
        `message -> first SDK message p50 ${result.apiFirstMessageMs.p50} ms (p99 ${result.apiFirstMessageMs.p99}) = ${result.firstMessageOverBare.p50}x bare ` +
        `(p99 ${result.firstMessageOverBare.p99}x), ${result.apiOverheadFirstMessageMs.p50} ms of API at p50`,
    );
  } finally {
    await host.close();
  }
}

await main();
