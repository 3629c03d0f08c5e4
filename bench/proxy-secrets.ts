/**
 * The cost of the secrets path: HTTPS through a tunnel the proxy terminates (Workcell CA toward
 * the client, verified TLS upstream, placeholder replaced) against the opaque CONNECT tunnel to
 * the same HTTPS upstream, measured in the same run with the same client.
 *
 * - Added latency: p50 of one small request on a reused connection, terminated minus opaque.
 *   Goal: at most 2 ms.
 * - Throughput: one large download, terminated (with the placeholder, so the response is scanned
 *   for the value) over opaque. Goal: ratio >= 0.5. Also reported: the terminated tunnel
 *   without a placeholder, which shows what the response scan costs.
 *
 * The proxy runs in a process of its own (bench/proxy-secrets-server.ts), as it does beside the
 * host; the upstream and the client share this one (the same for both paths). The same
 * measurements are repeated against the proxy as WORKCELL_PROXY_ISOLATION=process runs it (a
 * supervisor process forking the proxy process), reported under `process`.
 * Run: npx tsx bench/proxy-secrets.ts (BENCH_REQUESTS, default 2000; BENCH_MB, default 128;
 * BENCH_ROUNDS, default 5; BENCH_PROF=<dir> writes a CPU profile of the inline proxy's process
 * there).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openTunnel, startTls, TunnelSession } from '../packages/proxy/test/tls-client.js';
import { makeTestCa } from '../test/support/test-ca.js';
import { cpuPerMB, median, percentile, round, streamBytes } from './proxy-support.js';

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 2000);
const TOTAL_BYTES = Number(process.env.BENCH_MB ?? 128) * 1024 * 1024;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const CHUNK = Buffer.alloc(64 * 1024, 'x');
const PLACEHOLDER = 'wcs_benchPlaceholder0123456789abcdef';

async function main(): Promise<void> {
  const testCa = makeTestCa(['secret.example', 'plain.example', 'localhost', '127.0.0.1']);
  const upstream = createServer({ key: testCa.key, cert: testCa.cert }, (req, res) => {
    req.resume();
    if (req.url === '/large') {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      streamBytes(res, TOTAL_BYTES, CHUNK);
      return;
    }
    res.end('ok');
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const port = (upstream.address() as AddressInfo).port;

  const measure = async (
    isolation: 'inline' | 'process',
    secretHost: string,
    plainHost: string,
  ): Promise<Record<string, unknown>> => {
    const dir = mkdtempSync(join(tmpdir(), 'workcell-bench-secrets-'));
    const serverScript = fileURLToPath(new URL('./proxy-secrets-server.ts', import.meta.url));
    const server = spawn(
      process.execPath,
      [
        ...(process.env.BENCH_PROF && isolation === 'inline'
          ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_PROF]
          : []),
        '--import',
        'tsx',
        serverScript,
        String(port),
        dir,
        testCa.caFile,
        PLACEHOLDER,
        isolation,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const { socketPath, caPem } = await new Promise<{ socketPath: string; caPem: string }>(
      (resolve, reject) => {
        let out = '';
        server.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          if (out.includes('\n')) resolve(JSON.parse(out.slice(0, out.indexOf('\n'))));
        });
        server.once('exit', (code) =>
          reject(new Error(`the proxy process exited (${code ?? 'signal'})`)),
        );
      },
    );
    const trust = `${testCa.caPem}\n${caPem}`;

    const session = async (host: string): Promise<TunnelSession> => {
      const opened = await openTunnel(socketPath, `${host}:${port}`);
      if (!('socket' in opened)) throw new Error(opened.refused);
      return new TunnelSession(await startTls(opened.socket, host, trust), host);
    };
    const headers = { authorization: `Bearer ${PLACEHOLDER}` };

    const latency = async (host: string): Promise<number[]> => {
      const s = await session(host);
      const times: number[] = [];
      try {
        for (let i = 0; i < 200; i += 1) await s.fetch('/small', headers);
        for (let i = 0; i < REQUESTS; i += 1) {
          const t = performance.now();
          const reply = await s.fetch('/small', host === plainHost ? {} : headers);
          if (reply.status !== 200) throw new Error(`status ${reply.status}`);
          times.push(performance.now() - t);
        }
      } finally {
        s.close();
      }
      return times;
    };

    // The proxy's CPU is read from /proc for the inline proxy (the process one is a grandchild).
    const proxyPid = isolation === 'inline' ? server.pid : undefined;
    const download = async (
      host: string,
      withPlaceholder: boolean,
    ): Promise<{ mbps: number; cpuMsPerMB: number | null }> => {
      const s = await session(host);
      try {
        const run = await cpuPerMB(proxyPid, TOTAL_BYTES / 1024 / 1024, async () => {
          const t = performance.now();
          const reply = await s.fetchBytes('/large', withPlaceholder ? headers : {});
          const seconds = (performance.now() - t) / 1000;
          if (reply !== TOTAL_BYTES) throw new Error(`got ${reply} bytes`);
          return TOTAL_BYTES / 1024 / 1024 / seconds;
        });
        return { mbps: run.result, cpuMsPerMB: run.cpuMsPerMB };
      } finally {
        s.close();
      }
    };
    const cpuFigure = (runs: { cpuMsPerMB: number | null }[]): number | null =>
      runs.some((r) => r.cpuMsPerMB === null)
        ? null
        : round(median(runs.map((r) => r.cpuMsPerMB ?? 0)));

    try {
      const opaque = await latency(plainHost);
      const terminated = await latency(secretHost);
      const opaqueRuns: { mbps: number; cpuMsPerMB: number | null }[] = [];
      const terminatedRuns: typeof opaqueRuns = [];
      const unscrubbedRuns: typeof opaqueRuns = [];
      for (let r = 0; r < ROUNDS; r += 1) {
        opaqueRuns.push(await download(plainHost, false));
        terminatedRuns.push(await download(secretHost, true));
        unscrubbedRuns.push(await download(secretHost, false));
      }
      const opaqueMbps = opaqueRuns.map((r) => r.mbps);
      const terminatedMbps = terminatedRuns.map((r) => r.mbps);
      const unscrubbedMbps = unscrubbedRuns.map((r) => r.mbps);
      const p50o = percentile(opaque, 50);
      const p50t = percentile(terminated, 50);
      return {
        latencyMs: {
          opaque: { p50: round(p50o), p99: round(percentile(opaque, 99)) },
          terminated: { p50: round(p50t), p99: round(percentile(terminated, 99)) },
          addedP50: round(p50t - p50o),
          goalAddedP50: 2,
        },
        throughputMBps: {
          downloadMB: TOTAL_BYTES / 1024 / 1024,
          opaque: round(median(opaqueMbps)),
          terminated: round(median(terminatedMbps)),
          ratio: round(median(terminatedMbps) / median(opaqueMbps)),
          // The same tunnel without a placeholder: no value to scrub from the response.
          terminatedWithoutSubstitution: round(median(unscrubbedMbps)),
          ratioWithoutSubstitution: round(median(unscrubbedMbps) / median(opaqueMbps)),
          goalRatio: 0.5,
          // CPU the proxy's process spends per MB (median over rounds; inline proxy only), which
          // load from other work on the machine moves far less than it moves throughput.
          proxyCpuMsPerMB: {
            opaque: cpuFigure(opaqueRuns),
            terminated: cpuFigure(terminatedRuns),
            terminatedWithoutSubstitution: cpuFigure(unscrubbedRuns),
          },
        },
      };
    } finally {
      const exited = new Promise((resolve) => server.once('exit', resolve));
      server.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    }
  };

  const inline = await measure('inline', 'secret.example', 'plain.example');
  const isolated = await measure('process', 'localhost', '127.0.0.1');
  console.log(JSON.stringify({ requests: REQUESTS, ...inline, process: isolated }, null, 2));
  upstream.closeAllConnections();
  upstream.close();
  testCa.remove();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
