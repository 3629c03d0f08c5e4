/**
 * A cold first message: a new workspace's first message with an empty warm pool, from the
 * POST to `run.completed`, split into where the time goes (container create + start + agent
 * health, sync in, SDK start to its init message, the model turn, sync out and recording).
 * Baseline: a bare `docker run --rm --network none <image> true` timed in the same script.
 * Run: npx tsx bench/cold-first-message.ts [runs]
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startMockModel } from '../packages/mock-model/src/index.js';
import { createLogger, createWorkcell, resolveConfig } from '../packages/host/src/index.js';
import { SseParser } from '../test/support/sse.js';

const exec = promisify(execFile);
const runs = Number(process.argv[2] ?? 5);
const median = (xs: number[]): number =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-cold-'));
  const mock = await startMockModel();
  const token = `tok_${randomBytes(16).toString('hex')}`;
  const lines: string[] = [];
  const config = resolveConfig({
    port: 0,
    dataDir,
    apiTokens: `${token}=bench`,
    anthropicApiKey: 'sk-bench',
    anthropicUpstream: mock.url,
    warmPoolSize: 0,
    hostId: `bench-${randomBytes(3).toString('hex')}`,
  });
  const workcell = await createWorkcell(config, {
    logger: createLogger('info', { write: (l: string) => void lines.push(l) }),
  });
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
            const m = JSON.parse(e.data) as { type: string };
            if (m.type === 'assistant') at.firstAssistant ??= t;
            if (m.type === 'result') at.result ??= t;
          }
          if (e.event === 'run.completed' || e.event === 'run.failed') at.completed = t;
        }
      }
      const acquired = lines
        .map((l) => JSON.parse(l) as { msg: string; acquireMs?: number })
        .find((l) => l.msg === 'container acquired');
      rows.push({ ...at, acquireMs: acquired?.acquireMs ?? NaN });
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
    rmSync(dataDir, { recursive: true, force: true });
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
  console.log(
    `cold first message ${result.coldFirstMessageMs} ms (median of ${runs}) = ${result.ratioToBareDockerRun}x a bare docker run (${result.bareDockerRunMs} ms); ` +
      `container ${result.breakdownMs.containerAcquire} ms, first SDK message at ${result.breakdownMs.toFirstSdkMessage} ms, result at ${result.breakdownMs.toResult} ms`,
  );
}

await main();
