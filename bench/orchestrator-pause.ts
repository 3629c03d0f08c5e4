/**
 * Should idle containers be paused? Measures, on one idle workspace container:
 * - pause + unpause round trip through the runtime (dockerode: the cgroup freezer), and the
 *   resume path a paused workspace's next message would take (unpause, then the agent answers);
 * - the warm claim path's floor as the baseline (one StateStore round trip plus one agent
 *   `/health` ping): what an idle, unpaused container costs to reuse;
 * - what pausing saves: the idle container's CPU use over a few seconds (cgroup cpu.stat).
 *
 * Run: npx tsx bench/orchestrator-pause.ts (BENCH_SAMPLES default 30).
 */
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { AgentClient } from '../packages/host/src/containers/agent-client.js';
import { benchRig, pct, round } from './orchestrator-support.js';

const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 30);

/** CPU microseconds the container has used (cgroup v2 cpu.stat, else v1 cpuacct), or null. */
function cpuUsageUs(id: string): number | null {
  for (const path of [
    `/sys/fs/cgroup/system.slice/docker-${id}.scope/cpu.stat`,
    `/sys/fs/cgroup/docker/${id}/cpu.stat`,
  ]) {
    try {
      const line = readFileSync(path, 'utf8')
        .split('\n')
        .find((l) => l.startsWith('usage_usec'));
      if (line) return Number(line.split(' ')[1]);
    } catch {
      // Try the next layout.
    }
  }
  try {
    return (
      Number(readFileSync(`/sys/fs/cgroup/cpuacct/docker/${id}/cpuacct.usage`, 'utf8').trim()) /
      1000
    );
  } catch {
    return null;
  }
}

async function main(): Promise<void> {
  const rig = await benchRig();
  const { orchestrator, runtime, state, slots } = rig;
  try {
    const record = await orchestrator.createContainer();
    const agent = new AgentClient(slots.slot(record.slotId).agentSocket);
    for (let i = 0; i < 10; i += 1) {
      await agent.health();
      await state.getContainer(record.id);
    }

    const floor: number[] = [];
    for (let i = 0; i < SAMPLES; i += 1) {
      const t = performance.now();
      await state.getContainer(record.id);
      await agent.health();
      floor.push(performance.now() - t);
    }

    const roundTrip: number[] = [];
    const pauseOnly: number[] = [];
    const resumeToHealthy: number[] = [];
    for (let i = 0; i < SAMPLES; i += 1) {
      const t0 = performance.now();
      await runtime.pause(record.id);
      const t1 = performance.now();
      await runtime.unpause(record.id);
      const t2 = performance.now();
      await agent.health();
      const t3 = performance.now();
      pauseOnly.push(t1 - t0);
      roundTrip.push(t2 - t0);
      resumeToHealthy.push(t3 - t1);
    }

    // What pausing would save: the idle agent's CPU over 5 s.
    await sleep(1000);
    const before = cpuUsageUs(record.id);
    await sleep(5000);
    const after = cpuUsageUs(record.id);
    const idleCpuPercent =
      before !== null && after !== null ? ((after - before) / 5_000_000) * 100 : null;

    const result = {
      bench: 'orchestrator-pause',
      stateStore: rig.stateKind,
      samples: SAMPLES,
      pauseMs: { p50: round(pct(pauseOnly, 50), 1) },
      pauseUnpauseRoundTripMs: {
        p50: round(pct(roundTrip, 50), 1),
        p99: round(pct(roundTrip, 99), 1),
      },
      resumeToHealthyMs: {
        p50: round(pct(resumeToHealthy, 50), 1),
        p99: round(pct(resumeToHealthy, 99), 1),
      },
      reuseFloorMs: { p50: round(pct(floor, 50), 3) },
      resumeOverReuse: round(pct(resumeToHealthy, 50) / pct(floor, 50), 1),
      idleCpuPercent: idleCpuPercent === null ? null : round(idleCpuPercent, 3),
    };
    console.log(JSON.stringify(result));
    console.log(
      `pause+unpause round trip p50 ${result.pauseUnpauseRoundTripMs.p50} ms (p99 ${result.pauseUnpauseRoundTripMs.p99}); ` +
        `resuming a paused container to a healthy agent p50 ${result.resumeToHealthyMs.p50} ms = ${result.resumeOverReuse}x reusing an idle one ` +
        `(${result.reuseFloorMs.p50} ms); an idle agent uses ${result.idleCpuPercent ?? '?'}% of a CPU, which is all pausing would save`,
    );
  } finally {
    await rig.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
