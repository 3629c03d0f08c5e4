/**
 * Density: memory and CPU of idle warm containers (the agent started, no run), from
 * `docker stats --no-stream` after they settle, against a bare container of the same image
 * running `sleep` (the baseline: what any container of this image costs). Extrapolates how many
 * idle containers fit in 24 GiB (and in this machine's memory), by measured use and by the
 * configured per-container limit. It starts only a few containers; nothing is extrapolated from
 * running hundreds.
 *
 * Run: npx tsx bench/orchestrator-density.ts (BENCH_CONTAINERS default 6).
 */
import { totalmem } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { resolveConfig } from '../packages/host/src/config/load.js';
import { benchRig, docker, round } from './orchestrator-support.js';

const CONTAINERS = Number(process.env.BENCH_CONTAINERS ?? 6);
const GIB = 1024 ** 3;
const TARGET_BYTES = 24 * GIB;
/** Memory left for the host, Docker, Redis and the page cache. */
const RESERVED_FRACTION = 0.1;

const UNITS: Record<string, number> = {
  B: 1,
  KiB: 1024,
  MiB: 1024 ** 2,
  GiB: GIB,
  kB: 1000,
  MB: 1e6,
  GB: 1e9,
};

function bytes(text: string): number {
  const m = /^([\d.]+)\s*([A-Za-z]+)$/.exec(text.trim());
  if (!m) return NaN;
  return Number(m[1]) * (UNITS[m[2] ?? ''] ?? NaN);
}

/** Memory (bytes) and CPU (% of one core) per container id, from one `docker stats` sample. */
async function stats(ids: string[]): Promise<Map<string, { mem: number; cpu: number }>> {
  const out = await docker(
    'stats',
    '--no-stream',
    '--no-trunc',
    '--format',
    '{{.ID}}\t{{.MemUsage}}\t{{.CPUPerc}}',
    ...ids,
  );
  const map = new Map<string, { mem: number; cpu: number }>();
  for (const line of out.split('\n').filter(Boolean)) {
    const [id, mem, cpu] = line.split('\t');
    map.set(id ?? '', {
      mem: bytes((mem ?? '').split('/')[0] ?? ''),
      cpu: Number((cpu ?? '').replace('%', '')),
    });
  }
  return map;
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

async function main(): Promise<void> {
  const rig = await benchRig();
  const bare: string[] = [];
  try {
    const started = performance.now();
    const records = [];
    for (let i = 0; i < CONTAINERS; i += 1) records.push(await rig.orchestrator.createContainer());
    const startMs = (performance.now() - started) / CONTAINERS;
    for (let i = 0; i < 2; i += 1) {
      bare.push(
        (
          await docker(
            'run',
            '-d',
            '--network',
            'none',
            '--read-only',
            '--entrypoint',
            'sleep',
            rig.image,
            '600',
          )
        ).trim(),
      );
    }
    await sleep(5000);

    const ids = records.map((r) => r.id);
    const samples = [await stats([...ids, ...bare]), await stats([...ids, ...bare])];
    const agentMem = mean(ids.flatMap((id) => samples.map((s) => s.get(id)?.mem ?? NaN)));
    const agentCpu = mean(ids.flatMap((id) => samples.map((s) => s.get(id)?.cpu ?? NaN)));
    const bareMem = mean(bare.flatMap((id) => samples.map((s) => s.get(id)?.mem ?? NaN)));

    const limitBytes = resolveConfig({}).containerMemoryMb * 1024 * 1024;
    const usable = (total: number): number => total * (1 - RESERVED_FRACTION);
    const result = {
      bench: 'orchestrator-density',
      containers: CONTAINERS,
      idleAgentMiB: round(agentMem / 1024 ** 2, 1),
      bareContainerMiB: round(bareMem / 1024 ** 2, 2),
      agentOverBare: round(agentMem / bareMem, 1),
      idleCpuPercentOfOneCore: round(agentCpu, 2),
      createAndStartMsEach: round(startMs, 0),
      fitIn24GiB: {
        byMeasuredUse: Math.floor(usable(TARGET_BYTES) / agentMem),
        byConfiguredLimit: Math.floor(usable(TARGET_BYTES) / limitBytes),
      },
      fitInThisMachine: {
        totalGiB: round(totalmem() / GIB, 1),
        byMeasuredUse: Math.floor(usable(totalmem()) / agentMem),
      },
      idleContainersPerCore: agentCpu > 0 ? Math.floor(100 / agentCpu) : null,
    };
    const cpuBound =
      result.idleContainersPerCore === null ? Infinity : result.idleContainersPerCore * 2;
    const bound =
      cpuBound < result.fitIn24GiB.byMeasuredUse
        ? `the 2 cores (about ${cpuBound} idle agents)`
        : 'memory, not the 2 cores,';
    console.log(JSON.stringify(result));
    console.log(
      `an idle warm container uses ${result.idleAgentMiB} MiB (${result.agentOverBare}x a bare container of the image, ${result.bareContainerMiB} MiB) ` +
        `and ${result.idleCpuPercentOfOneCore}% of a core: about ${result.fitIn24GiB.byMeasuredUse} fit in 24 GiB by use ` +
        `(${result.fitIn24GiB.byConfiguredLimit} if every container's ${resolveConfig({}).containerMemoryMb} MiB limit is reserved); ${bound} is the bound`,
    );
  } finally {
    for (const id of bare) await docker('rm', '-f', id).catch(() => '');
    await rig.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
