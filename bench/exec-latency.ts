/**
 * Exec latency: from `POST /v1/workspaces/:wid/exec` (SSE) to the first byte of the command's
 * output, beside two baselines measured on the same container in the same run, interleaved:
 * a bare `docker exec <container> <command>` (the CLI, to the first byte on its stdout), and the
 * Engine API's exec called directly with dockerode (create + start, to the first output frame:
 * the floor under any exec, with no CLI process to start). The workspace's container is warm
 * (acquired by a first exec), as for every command after a workspace's first.
 * Goal: the API at most 1.5x the bare `docker exec`.
 * Run: npx tsx bench/exec-latency.ts [iterations]   (BENCH_REDIS_URL=redis://... to use Redis)
 */
import { spawn } from 'node:child_process';
import Docker from 'dockerode';
import { pct, round, startBenchHost } from './api-support.js';

const iterations = Number(process.argv[2] ?? 40);
const COMMAND = ['echo', 'hello'];

/** ms from spawning `docker exec` to the first byte on its stdout. */
function cliFirstByte(containerId: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn('docker', ['exec', '-u', '1000:1000', containerId, ...COMMAND]);
    let first: number | null = null;
    child.stdout.on('data', () => {
      first ??= performance.now() - start;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0 || first === null) reject(new Error(`docker exec exited ${code}`));
      else resolve(first);
    });
  });
}

/** ms from creating an exec through the Engine API to its first output frame. */
async function engineFirstByte(container: Docker.Container): Promise<number> {
  const start = performance.now();
  const exec = await container.exec({
    Cmd: COMMAND,
    User: '1000:1000',
    AttachStdout: true,
    AttachStderr: true,
  });
  const stream = await exec.start({ hijack: true, stdin: false });
  let first: number | null = null;
  for await (const _ of stream as AsyncIterable<Buffer>) first ??= performance.now() - start;
  if (first === null) throw new Error('no output');
  return first;
}

async function main(): Promise<void> {
  const host = await startBenchHost(
    process.env.BENCH_REDIS_URL ? { redisUrl: process.env.BENCH_REDIS_URL } : {},
  );
  const api: number[] = [];
  const cli: number[] = [];
  const engine: number[] = [];
  try {
    const { workspaceId } = await host.conversation();
    const path = `/v1/workspaces/${workspaceId}/exec`;
    const body = JSON.stringify({ command: COMMAND });
    /** ms from the request to the first `stdout` event; reads the stream to its end. */
    const apiFirstByte = async (): Promise<number> => {
      const start = performance.now();
      const res = await host.api(path, {
        method: 'POST',
        headers: { accept: 'text/event-stream' },
        body,
      });
      if (!res.ok || !res.body) throw new Error(`exec answered ${res.status}: ${await res.text()}`);
      let first: number | null = null;
      let text = '';
      const decoder = new TextDecoder();
      for await (const piece of res.body as unknown as AsyncIterable<Uint8Array>) {
        text += decoder.decode(piece, { stream: true });
        if (first === null && text.includes('event: stdout')) first = performance.now() - start;
      }
      if (first === null || !text.includes('event: exit')) throw new Error(`no output: ${text}`);
      return first;
    };
    await apiFirstByte();
    const record = await host.workcell.orchestrator.assigned(workspaceId);
    if (!record) throw new Error('the workspace has no container');
    const container = new Docker({ socketPath: '/var/run/docker.sock' }).getContainer(record.id);
    // Warm every path once before timing.
    await cliFirstByte(record.id);
    await engineFirstByte(container);
    for (let i = 0; i < iterations; i += 1) {
      api.push(await apiFirstByte());
      cli.push(await cliFirstByte(record.id));
      engine.push(await engineFirstByte(container));
    }
  } finally {
    await host.close();
  }
  const stats = (xs: number[]): { p50: number; p95: number } => ({
    p50: round(pct(xs, 50), 1),
    p95: round(pct(xs, 95), 1),
  });
  const result = {
    iterations,
    command: COMMAND.join(' '),
    state: process.env.BENCH_REDIS_URL ? 'redis' : 'memory',
    apiFirstByteMs: stats(api),
    dockerExecCliFirstByteMs: stats(cli),
    engineApiFirstByteMs: stats(engine),
    ratioToDockerExec: {
      p50: round(pct(api, 50) / pct(cli, 50)),
      p95: round(pct(api, 95) / pct(cli, 95)),
    },
    ratioToEngineApi: {
      p50: round(pct(api, 50) / pct(engine, 50)),
      p95: round(pct(api, 95) / pct(engine, 95)),
    },
  };
  console.log(JSON.stringify(result));
  console.log(
    `exec first byte: API p50 ${result.apiFirstByteMs.p50} ms / p95 ${result.apiFirstByteMs.p95} ms; ` +
      `docker exec p50 ${result.dockerExecCliFirstByteMs.p50} / p95 ${result.dockerExecCliFirstByteMs.p95} ms ` +
      `(ratio ${result.ratioToDockerExec.p50}x / ${result.ratioToDockerExec.p95}x, goal <= 1.5x); ` +
      `engine API p50 ${result.engineApiFirstByteMs.p50} / p95 ${result.engineApiFirstByteMs.p95} ms ` +
      `(ratio ${result.ratioToEngineApi.p50}x / ${result.ratioToEngineApi.p95}x)`,
  );
}

await main();
