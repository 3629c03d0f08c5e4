/**
 * A cold first message: a new workspace's first message with an empty warm pool, from the
 * POST to `run.completed`, split into where the time goes: the run's acceptance, the slot (its
 * workspace volume), the container's create and start, its agent's first health answer, the
 * sync in, the CLI's start to its `system/init` message, the model turn, the sync out, and the
 * rest (hand back, recording). The split comes from the host's own records: the SSE events'
 * arrival, the orchestrator's debug line `container start timings`, the `container acquired`
 * log line's timestamp and the sync duration histograms of `/metrics`.
 * Baseline: a bare `docker run --rm --network none --entrypoint true <image>` timed in the same
 * script. Run: npx tsx bench/cold-first-message.ts [runs]   (WORKCELL_IMAGE picks the image)
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startMockModel } from '../packages/mock-model/src/index.js';
import { createLogger, createWorkcell, resolveConfig } from '../packages/host/src/index.js';
import { removeDataDir } from '../test/support/host.js';
import { SseParser } from '../test/support/sse.js';

const exec = promisify(execFile);

/** The fields of the host's log lines this benchmark reads. */
interface LogLine {
  msg: string;
  time?: number;
  acquireMs?: number;
  slotMs?: number;
  createMs?: number;
  recordMs?: number;
  startMs?: number;
  healthMs?: number;
  reason?: string | null;
}

/** The steps of the cold path, in order, as table rows. */
const STEPS: [string, string][] = [
  ['steps_accept', 'POST to acquire: auth, admission, workspace lock, run record'],
  ['steps_slot', 'slot: directories and its workspace volume'],
  ['steps_create', 'container create (engine)'],
  ['steps_record', 'state record and assignment'],
  ['steps_start', 'container start (engine)'],
  ['steps_health', "agent's first /health answer"],
  ['steps_acquireRest', 'rest of the acquire (egress listener, claims tried)'],
  ['steps_syncIn', 'sync in'],
  ['steps_cliToInit', "POST /runs to the CLI's system/init"],
  ['steps_turn', 'the turn (init to result; mock model, one Write tool call)'],
  ['steps_syncOut', 'sync out'],
  ['steps_rest', 'settle, hand back, recording, run.completed'],
];
const runs = Number(process.argv[2] ?? 5);
const median = (xs: number[]): number =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-cold-'));
  const mock = await startMockModel();
  const token = `tok_${randomBytes(16).toString('hex')}`;
  const lines: string[] = [];
  /** Per run: whether its turn went to a ready Claude Code process, or why not. */
  const readyUse: string[] = [];
  const config = resolveConfig({
    port: 0,
    dataDir,
    apiTokens: `${token}=bench`,
    anthropicApiKey: 'sk-bench',
    anthropicUpstream: mock.url,
    warmPoolSize: 0,
    hostId: `bench-${randomBytes(3).toString('hex')}`,
    ...(process.env.WORKCELL_IMAGE ? { image: process.env.WORKCELL_IMAGE } : {}),
  });
  const workcell = await createWorkcell(config, {
    logger: createLogger('debug', { write: (l: string) => void lines.push(l) }),
  });
  /** The sum of the sync duration histogram for `direction`, in ms. */
  const syncMs = async (direction: 'in' | 'out'): Promise<number> => {
    const text = await workcell.metrics.render();
    const m = new RegExp(
      `^workcell_sync_duration_seconds_sum\\{direction="${direction}"\\} ([\\d.e+-]+)$`,
      'm',
    ).exec(text);
    return m ? Number(m[1]) * 1000 : 0;
  };
  const url = await workcell.listen();
  const api = (path: string, body: unknown, accept?: string): Promise<Response> =>
    fetch(`${url}${path}`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        ...(accept ? { accept } : {}),
      },
      body: JSON.stringify(body),
    });

  const bare: number[] = [];
  const rows: Record<string, number>[] = [];
  try {
    for (let i = 0; i < runs; i += 1) {
      const t0 = performance.now();
      await exec('docker', [
        'run',
        '--rm',
        '--network',
        'none',
        '--entrypoint',
        'true',
        config.image,
      ]);
      bare.push(performance.now() - t0);

      const ws = (await (await api('/v1/workspaces', {})).json()) as { id: string };
      const conv = (await (await api(`/v1/workspaces/${ws.id}/conversations`, {})).json()) as {
        id: string;
      };
      lines.length = 0;
      const syncBefore = { in: await syncMs('in'), out: await syncMs('out') };
      const wallStart = Date.now();
      const start = performance.now();
      const res = await api(
        `/v1/conversations/${conv.id}/messages`,
        { content: 'MOCK:{"tool": "Write", "input": {"file_path": "a.txt", "content": "x"}}' },
        'text/event-stream',
      );
      const parser = new SseParser();
      const at: Record<string, number> = {};
      const reader = res.body!.getReader();
      const decoder = new TextDecoder();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        for (const e of parser.push(decoder.decode(value, { stream: true }))) {
          const t = performance.now() - start;
          if (e.event === 'run.started') at.runStarted ??= t;
          if (e.event === 'message') {
            at.firstSdkMessage ??= t;
            const m = JSON.parse(e.data) as { type: string; subtype?: string };
            if (m.type === 'system' && m.subtype === 'init') at.init ??= t;
            if (m.type === 'assistant') at.firstAssistant ??= t;
            if (m.type === 'result') at.result ??= t;
          }
          if (e.event === 'run.completed' || e.event === 'run.failed') at.completed = t;
        }
      }
      const logs = lines.map((l) => JSON.parse(l) as LogLine);
      const turn = logs.find((l) => l.msg.startsWith('the turn '));
      if (turn)
        readyUse.push(turn.msg.includes('ready') ? 'ready' : `fresh (${turn.reason ?? '?'})`);
      const acquired = logs.find((l) => l.msg === 'container acquired');
      const started = logs.find((l) => l.msg === 'container start timings');
      const syncIn = (await syncMs('in')) - syncBefore.in;
      const syncOut = (await syncMs('out')) - syncBefore.out;
      const acquiredAt = (acquired?.time ?? NaN) - wallStart;
      const acquireMs = acquired?.acquireMs ?? NaN;
      const containerSteps =
        (started?.slotMs ?? 0) +
        (started?.createMs ?? 0) +
        (started?.recordMs ?? 0) +
        (started?.startMs ?? 0) +
        (started?.healthMs ?? 0);
      const syncedAt = acquiredAt + syncIn;
      rows.push({
        ...at,
        acquireMs,
        steps_accept: acquiredAt - acquireMs,
        steps_slot: started?.slotMs ?? NaN,
        steps_create: started?.createMs ?? NaN,
        steps_record: started?.recordMs ?? NaN,
        steps_start: started?.startMs ?? NaN,
        steps_health: started?.healthMs ?? NaN,
        steps_acquireRest: acquireMs - containerSteps,
        steps_syncIn: syncIn,
        steps_cliToInit: (at.init ?? NaN) - syncedAt,
        steps_turn: (at.result ?? NaN) - (at.init ?? NaN),
        steps_syncOut: syncOut,
        steps_rest: (at.completed ?? NaN) - (at.result ?? NaN) - syncOut,
      });
    }
  } finally {
    await workcell.close(5000);
    const ids = (
      await exec('docker', ['ps', '-aq', '--filter', `label=workcell.host=${config.hostId}`])
    ).stdout
      .split('\n')
      .filter(Boolean);
    if (ids.length) await exec('docker', ['rm', '-f', ...ids]);
    await mock.close();
    // Slot volumes are mounted under the data directory: unmounted before it goes.
    await removeDataDir(dataDir);
  }

  const m = (k: string): number => Math.round(median(rows.map((r) => r[k] ?? NaN)));
  const result = {
    runs,
    bareDockerRunMs: Math.round(median(bare)),
    coldFirstMessageMs: m('completed'),
    ratioToBareDockerRun: Number((m('completed') / median(bare)).toFixed(2)),
    breakdownMs: {
      toRunStarted: m('runStarted'),
      containerAcquire: m('acquireMs'),
      toFirstSdkMessage: m('firstSdkMessage'),
      toFirstAssistantMessage: m('firstAssistant'),
      toResult: m('result'),
      resultToCompleted: m('completed') - m('result'),
    },
  };
  console.log(JSON.stringify(result));
  const total = m('completed');
  console.log(`\n| step | p50 ms | share |\n|---|---:|---:|`);
  for (const [key, label] of STEPS)
    console.log(`| ${label} | ${m(key)} | ${Math.round((100 * m(key)) / total)}% |`);
  const summed = STEPS.reduce((a, [key]) => a + m(key), 0);
  console.log(`| **POST to run.completed** (steps sum to ${summed}) | **${total}** | |`);
  console.log(
    `| bare \`docker run --rm --network none --entrypoint true\` | ${result.bareDockerRunMs} | |`,
  );
  console.log(
    `cold first message ${result.coldFirstMessageMs} ms (median of ${runs}) = ${result.ratioToBareDockerRun}x a bare docker run (${result.bareDockerRunMs} ms); ` +
      `container ${result.breakdownMs.containerAcquire} ms, first SDK message at ${result.breakdownMs.toFirstSdkMessage} ms, result at ${result.breakdownMs.toResult} ms`,
  );
  console.log(`the turns' Claude Code process: ${readyUse.join(', ')}`);
}

await main();
