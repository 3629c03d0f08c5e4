/**
 * Ready agents on versus off, in one run: two hosts (WORKCELL_AGENT_PREWARM=true and =false),
 * each with a warm pool of one, take messages in turn. For each of `runs` rounds and each host:
 * (a) a new workspace's first message on a warm container, (b) a follow-up in the same
 * conversation. Each message is timed from the POST to `run.started`, to the SDK's
 * `system/init` message, and to `run.completed` (one mock turn); p50 and p95 over the rounds,
 * with the on/off ratios. Before every message both hosts are quiet (pools full, ready
 * processes started), so one host's refill does not slow the other's message.
 *
 * Also: the cold path (empty pool, hosts with pool size 0, on and off) beside a bare
 * `docker run --rm --network none` of the image; where the time of a ready first message goes
 * (acquire, sync in, the CLI's answer, the model turn, recording); and `docker stats` memory of
 * a warm container with and without its ready process, with what it does to density.
 *
 * Run: npx tsx bench/ready-agent.ts [runs=30] [coldRuns=8]   (WORKCELL_IMAGE picks the image,
 * WORKCELL_WARM_POOL_REFILL_DELAY_MS the replacement's delay after a claim; runs=0 measures only
 * the cold path)
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { startMockModel, type MockModel } from '../packages/mock-model/src/index.js';
import {
  AgentClient,
  createLogger,
  createWorkcell,
  resolveConfig,
  type Workcell,
} from '../packages/host/src/index.js';
import { removeDataDir } from '../test/support/host.js';
import { SseParser } from '../test/support/sse.js';

const exec = promisify(execFile);
const RUNS = Number(process.argv[2] ?? 30);
const COLD_RUNS = Number(process.argv[3] ?? 8);
const GIB = 1024 ** 3;

interface Host {
  name: string;
  workcell: Workcell;
  url: string;
  token: string;
  dataDir: string;
  hostId: string;
  /** Log lines since the last `lines.length = 0`. */
  lines: string[];
}

interface Timing {
  runStarted: number;
  init: number;
  result: number;
  completed: number;
  acquireMs: number;
  ready: boolean;
}

async function startHost(
  name: string,
  mock: MockModel,
  prewarm: boolean,
  warmPoolSize: number,
): Promise<Host> {
  const dataDir = mkdtempSync(join(tmpdir(), `bench-ready-${name}-`));
  const token = `tok_${randomBytes(16).toString('hex')}`;
  const hostId = `bench-${name}-${randomBytes(3).toString('hex')}`;
  const lines: string[] = [];
  const config = resolveConfig({
    port: 0,
    dataDir,
    apiTokens: `${token}=bench`,
    anthropicApiKey: 'sk-bench',
    anthropicUpstream: mock.url,
    warmPoolSize,
    hostId,
    agentPrewarm: prewarm ? 'true' : 'false',
    ...(process.env.WORKCELL_IMAGE ? { image: process.env.WORKCELL_IMAGE } : {}),
    ...(process.env.WORKCELL_WARM_POOL_REFILL_DELAY_MS
      ? { warmPoolRefillDelayMs: process.env.WORKCELL_WARM_POOL_REFILL_DELAY_MS }
      : {}),
  });
  const workcell = await createWorkcell(config, {
    logger: createLogger('info', { write: (l: string) => void lines.push(l) }),
  });
  const url = await workcell.listen();
  return { name, workcell, url, token, dataDir, hostId, lines };
}

async function stopHost(host: Host): Promise<void> {
  await host.workcell.close(5000).catch(() => undefined);
  const ids = (
    await exec('docker', ['ps', '-aq', '--filter', `label=workcell.host=${host.hostId}`])
  ).stdout
    .split('\n')
    .filter(Boolean);
  if (ids.length) await exec('docker', ['rm', '-f', ...ids]);
  await removeDataDir(host.dataDir);
}

function call(host: Host, method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${host.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${host.token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

async function conversation(host: Host): Promise<{ workspaceId: string; id: string }> {
  const ws = (await (await call(host, 'POST', '/v1/workspaces', {})).json()) as { id: string };
  const conv = (await (
    await call(host, 'POST', `/v1/workspaces/${ws.id}/conversations`, {})
  ).json()) as { id: string };
  return { workspaceId: ws.id, id: conv.id };
}

/** Sends one message and times its events from the POST. */
async function send(host: Host, conversationId: string, content: string): Promise<Timing> {
  host.lines.length = 0;
  const start = performance.now();
  const res = await fetch(`${host.url}/v1/conversations/${conversationId}/messages`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${host.token}`,
      'content-type': 'application/json',
      accept: 'text/event-stream',
    },
    body: JSON.stringify({ content }),
  });
  const parser = new SseParser();
  const at: Partial<Timing> = {};
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let failed = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    for (const e of parser.push(decoder.decode(value, { stream: true }))) {
      const t = performance.now() - start;
      if (e.event === 'run.started') at.runStarted ??= t;
      if (e.event === 'message') {
        const m = JSON.parse(e.data) as { type: string; subtype?: string };
        if (m.type === 'system' && m.subtype === 'init') at.init ??= t;
        if (m.type === 'result') at.result ??= t;
      }
      if (e.event === 'run.failed') failed = e.data;
      if (e.event === 'run.completed' || e.event === 'run.failed') at.completed = t;
    }
  }
  if (failed) throw new Error(`${host.name}: run failed: ${failed}`);
  const logs = host.lines.map(
    (l) =>
      JSON.parse(l) as { msg: string; acquireMs?: number; durationMs?: number; direction?: string },
  );
  const acquired = logs.find((l) => l.msg === 'container acquired');
  const ready = logs.some((l) => l.msg === 'the turn went to a ready agent process');
  return {
    runStarted: at.runStarted ?? NaN,
    init: at.init ?? NaN,
    result: at.result ?? NaN,
    completed: at.completed ?? NaN,
    acquireMs: acquired?.acquireMs ?? NaN,
    ready,
  };
}

/** Agents of the host's containers in `states` that answer `/health` with a ready process. */
async function readyIn(host: Host, states: string[]): Promise<{ total: number; ready: number }> {
  const records = (await host.workcell.state.listContainers()).filter((r) =>
    states.includes(r.state),
  );
  let ready = 0;
  for (const r of records) {
    const agent = new AgentClient(host.workcell.slots.slot(r.slotId).agentSocket);
    if ((await agent.health(1000).catch(() => null))?.ready) ready += 1;
  }
  return { total: records.length, ready };
}

/** Waits until the host's pool is full and, with ready agents on, every agent is ready. */
async function quiet(host: Host, prewarm: boolean, pool: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    await host.workcell.pool.settled();
    const warm = await readyIn(host, ['warm']);
    const assigned = await readyIn(host, ['idle', 'assigned']);
    if (
      warm.total >= pool &&
      (!prewarm || (warm.ready >= pool && assigned.ready >= assigned.total))
    )
      return;
    await sleep(50);
  }
  throw new Error(`${host.name}: the pool did not settle`);
}

function pct(xs: number[], p: number): number {
  const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

const r0 = (x: number): number => Math.round(x);
const r2 = (x: number): number => Number(x.toFixed(2));

function summary(rows: Timing[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const key of ['runStarted', 'init', 'completed'] as const) {
    out[`${key}P50`] = r0(
      pct(
        rows.map((r) => r[key]),
        50,
      ),
    );
    out[`${key}P95`] = r0(
      pct(
        rows.map((r) => r[key]),
        95,
      ),
    );
  }
  out.readyUsed = rows.filter((r) => r.ready).length;
  return out;
}

function ratios(on: Record<string, number>, off: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const key of Object.keys(on))
    if (!key.startsWith('ready')) out[key] = r2((on[key] ?? NaN) / (off[key] ?? NaN));
  return out;
}

const UNITS: Record<string, number> = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: GIB };

/** `docker stats` memory (bytes) of one container. */
async function memoryOf(id: string): Promise<number> {
  const { stdout } = await exec('docker', [
    'stats',
    '--no-stream',
    '--no-trunc',
    '--format',
    '{{.MemUsage}}',
    id,
  ]);
  const m = /^([\d.]+)\s*([A-Za-z]+)/.exec(stdout.trim());
  return m ? Number(m[1]) * (UNITS[m[2] ?? ''] ?? NaN) : NaN;
}

async function warmMemory(host: Host): Promise<number> {
  const warm = (await host.workcell.state.listContainers()).filter((r) => r.state === 'warm');
  const samples: number[] = [];
  for (const r of warm) samples.push(await memoryOf(r.id));
  return samples.reduce((a, b) => a + b, 0) / Math.max(1, samples.length);
}

async function main(): Promise<void> {
  const mock = await startMockModel();
  const on = await startHost('on', mock, true, RUNS > 0 ? 1 : 0);
  const off = await startHost('off', mock, false, RUNS > 0 ? 1 : 0);
  const rows = {
    on: { first: [] as Timing[], followUp: [] as Timing[] },
    off: { first: [] as Timing[], followUp: [] as Timing[] },
  };
  let memory = { withReady: NaN, without: NaN };
  const cold = { on: [] as Timing[], off: [] as Timing[], bare: [] as number[] };
  try {
    const pairs: [Host, boolean, 'on' | 'off'][] = [
      [on, true, 'on'],
      [off, false, 'off'],
    ];
    for (let i = 0; i < RUNS; i += 1) {
      // Alternate which host goes first, so neither always follows the other's work.
      const order = i % 2 === 0 ? pairs : [...pairs].reverse();
      for (const [host, prewarm, key] of order) {
        await quiet(on, true, 1);
        await quiet(off, false, 1);
        const conv = await conversation(host);
        rows[key].first.push(await send(host, conv.id, 'MOCK:{"text": "first"}'));
        await quiet(host, prewarm, 1);
        await quiet(pairs.find(([h]) => h !== host)![0], !prewarm, 1);
        rows[key].followUp.push(await send(host, conv.id, 'MOCK:{"text": "follow-up"}'));
        await call(host, 'DELETE', `/v1/workspaces/${conv.workspaceId}`);
      }
    }
    if (RUNS > 0) {
      await quiet(on, true, 1);
      await quiet(off, false, 1);
      await sleep(2000);
      memory = { withReady: await warmMemory(on), without: await warmMemory(off) };
    }
  } finally {
    await stopHost(on);
    await stopHost(off);
  }

  // The cold path: no warm pool, on and off, beside a bare docker run.
  const coldOn = await startHost('cold-on', mock, true, 0);
  const coldOff = await startHost('cold-off', mock, false, 0);
  try {
    const image = coldOn.workcell.config.image;
    for (let i = 0; i < COLD_RUNS; i += 1) {
      const t0 = performance.now();
      await exec('docker', ['run', '--rm', '--network', 'none', '--entrypoint', 'true', image]);
      cold.bare.push(performance.now() - t0);
      for (const [host, key] of [
        [coldOn, 'on'],
        [coldOff, 'off'],
      ] as const) {
        const conv = await conversation(host);
        cold[key].push(await send(host, conv.id, 'MOCK:{"text": "cold"}'));
        await call(host, 'DELETE', `/v1/workspaces/${conv.workspaceId}`);
        await sleep(500);
      }
    }
  } finally {
    await stopHost(coldOn);
    await stopHost(coldOff);
    await mock.close();
  }

  const firstOn = summary(rows.on.first);
  const firstOff = summary(rows.off.first);
  const followOn = summary(rows.on.followUp);
  const followOff = summary(rows.off.followUp);
  const p50 = (xs: Timing[], k: keyof Timing): number =>
    r0(
      pct(
        xs.map((r) => Number(r[k])),
        50,
      ),
    );
  /** The p50 of each step between two marks of a message. */
  const between = (xs: Timing[], from: keyof Timing, to: keyof Timing): number =>
    r0(
      pct(
        xs.map((r) => Number(r[to]) - Number(r[from])),
        50,
      ),
    );
  const phases = (xs: Timing[]): Record<string, number> => ({
    toRunStarted: p50(xs, 'runStarted'),
    runStartedToInit: between(xs, 'runStarted', 'init'),
    initToResult: between(xs, 'init', 'result'),
    resultToCompleted: between(xs, 'result', 'completed'),
  });
  const result = {
    runs: RUNS,
    newWorkspaceOnWarmPool: { on: firstOn, off: firstOff, ratioOnToOff: ratios(firstOn, firstOff) },
    followUpSameConversation: {
      on: followOn,
      off: followOff,
      ratioOnToOff: ratios(followOn, followOff),
    },
    whereTheTimeGoesP50Ms: Object.fromEntries(
      (['on', 'off'] as const).map((k) => [
        k,
        {
          firstMessage: {
            ...phases(rows[k].first),
            containerAcquire: p50(rows[k].first, 'acquireMs'),
          },
          followUp: phases(rows[k].followUp),
        },
      ]),
    ),
    coldEmptyPool: {
      runs: COLD_RUNS,
      bareDockerRunP50: r0(pct(cold.bare, 50)),
      on: { ...summary(cold.on), acquireP50: p50(cold.on, 'acquireMs') },
      off: { ...summary(cold.off), acquireP50: p50(cold.off, 'acquireMs') },
      completedOnToBare: r2(
        pct(
          cold.on.map((r) => r.completed),
          50,
        ) / pct(cold.bare, 50),
      ),
      completedOffToBare: r2(
        pct(
          cold.off.map((r) => r.completed),
          50,
        ) / pct(cold.bare, 50),
      ),
    },
    warmContainerMemoryMiB: {
      withReadyProcess: r0(memory.withReady / 1024 ** 2),
      without: r0(memory.without / 1024 ** 2),
      idleContainersIn24GiB: {
        withReadyProcess: Math.floor((24 * GIB) / memory.withReady),
        without: Math.floor((24 * GIB) / memory.without),
      },
    },
  };
  console.log(JSON.stringify(result, null, 2));
}

await main();
