/**
 * Streaming throughput through the credential proxy over a raw byte relay on the same kind of
 * Unix socket to the same upstream (the baseline, measured in this run), for the two streaming
 * paths: the Anthropic route (a streamed HTTP response, as model replies are) and a CONNECT
 * tunnel. The proxy and the relay run in a child process of their own (bench/proxy-bench-server.ts),
 * the upstream and the client here. Goal: ratio >= 0.8. Each round also measures the proxy as
 * WORKCELL_PROXY_ISOLATION=process runs it (a host-side process forking the proxy process, audit
 * records over IPC), reported as `process*` beside the inline figures.
 * Run: npx tsx bench/proxy-throughput.ts (BENCH_MB, default 256; BENCH_ROUNDS, default 7;
 * BENCH_PROF=<dir> writes a CPU profile of the inline proxy's process there). Also reported: the
 * CPU the inline proxy's process spends per MB on each path, which load from other work on the
 * machine moves far less than it moves throughput.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, request, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { cpuPerMB, median, round, streamBytes } from './proxy-support.js';

const MEGABYTES = Number(process.env.BENCH_MB ?? 256);
const TOTAL_BYTES = MEGABYTES * 1024 * 1024;
const CHUNK = Buffer.alloc(64 * 1024, 'x');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);

/** An upstream that answers every request with TOTAL_BYTES streamed in 64 KB writes. */
async function startStreamingUpstream(): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'Content-Type': 'text/event-stream' });
    streamBytes(res, TOTAL_BYTES, CHUNK);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

/** Reads a whole streamed response; answers MB/s. */
function download(init: {
  socketPath?: string;
  createConnection?: () => Socket;
  path: string;
  method?: string;
}): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const via = init.createConnection
      ? { createConnection: init.createConnection }
      : { socketPath: init.socketPath, agent: false };
    const req = request(
      {
        ...via,
        path: init.path,
        method: init.method ?? 'POST',
        headers: {
          Host: 'good.example',
          'Content-Type': 'application/json',
          'Content-Length': '2',
        },
      },
      (res) => {
        let bytes = 0;
        res.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
        });
        res.on('end', () => {
          if (bytes < TOTAL_BYTES) reject(new Error(`short read: ${bytes}`));
          else resolve(bytes / (1024 * 1024) / ((performance.now() - started) / 1000));
        });
        res.on('error', (err) =>
          reject(new Error(`${init.path} via ${init.socketPath ?? 'tunnel'}: ${err.message}`)),
        );
      },
    );
    req.on('error', (err) =>
      reject(new Error(`${init.path} via ${init.socketPath ?? 'tunnel'}: ${err.message}`)),
    );
    req.end('{}');
  });
}

/** Opens a CONNECT tunnel over the proxy socket; answers the tunnelled socket. */
function tunnel(socketPath: string, target: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath);
    socket.once('error', reject);
    socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`);
    let head = '';
    const onData = (chunk: Buffer): void => {
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      socket.removeListener('data', onData);
      if (!head.startsWith('HTTP/1.1 200')) reject(new Error(head));
      else resolve(socket);
    };
    socket.on('data', onData);
  });
}

const cpuFigure = (values: number[]): number | null =>
  values.some(Number.isNaN) ? null : round(median(values), 2);

async function main(): Promise<void> {
  const upstream = await startStreamingUpstream();
  const serverScript = fileURLToPath(new URL('./proxy-bench-server.ts', import.meta.url));
  const startServer = (
    isolation: 'inline' | 'process',
  ): Promise<{ server: ChildProcess; proxy: string; relay: string }> => {
    const server = spawn(
      process.execPath,
      [
        ...(process.env.BENCH_PROF && isolation === 'inline'
          ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_PROF]
          : []),
        '--import',
        'tsx',
        serverScript,
        String(upstream.port),
        isolation,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    return new Promise((resolve, reject) => {
      let out = '';
      server.stdout?.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (!out.includes('\n')) return;
        const paths = JSON.parse(out.slice(0, out.indexOf('\n'))) as {
          proxy: string;
          relay: string;
        };
        resolve({ server, ...paths });
      });
      server.once('exit', (code) =>
        reject(new Error(`the proxy process exited (${code ?? 'signal'})`)),
      );
    });
  };
  const inline = await startServer('inline');
  const isolated = await startServer('process');
  const { server } = inline;
  const proxy = { socketPath: inline.proxy };
  const relay = { socketPath: inline.relay };
  const target = `good.example:${upstream.port}`;
  try {
    await download({ socketPath: relay.socketPath, path: '/' });
    await download({ socketPath: proxy.socketPath, path: '/_workcell/anthropic/v1/messages' });
    await download({ socketPath: isolated.proxy, path: '/_workcell/anthropic/v1/messages' });
    const rawMBs: number[] = [];
    const processRouteMBs: number[] = [];
    const processTunnelMBs: number[] = [];
    const routeMBs: number[] = [];
    const tunnelMBs: number[] = [];
    const rawCpu: number[] = [];
    const routeCpu: number[] = [];
    const tunnelCpu: number[] = [];
    for (let i = 0; i < ROUNDS; i += 1) {
      // The relay and the inline proxy share one process, and run one at a time.
      const rawRun = await cpuPerMB(server.pid, MEGABYTES, () =>
        download({ socketPath: relay.socketPath, path: '/' }),
      );
      rawMBs.push(rawRun.result);
      rawCpu.push(rawRun.cpuMsPerMB ?? NaN);
      const routeRun = await cpuPerMB(server.pid, MEGABYTES, () =>
        download({ socketPath: proxy.socketPath, path: '/_workcell/anthropic/v1/messages' }),
      );
      routeMBs.push(routeRun.result);
      routeCpu.push(routeRun.cpuMsPerMB ?? NaN);
      const socket = await tunnel(proxy.socketPath, target);
      const tunnelRun = await cpuPerMB(server.pid, MEGABYTES, () =>
        download({ createConnection: () => socket, path: '/' }),
      );
      tunnelMBs.push(tunnelRun.result);
      tunnelCpu.push(tunnelRun.cpuMsPerMB ?? NaN);
      processRouteMBs.push(
        await download({ socketPath: isolated.proxy, path: '/_workcell/anthropic/v1/messages' }),
      );
      const isolatedSocket = await tunnel(isolated.proxy, `localhost:${upstream.port}`);
      processTunnelMBs.push(await download({ createConnection: () => isolatedSocket, path: '/' }));
    }
    const raw = median(rawMBs);
    const route = median(routeMBs);
    const tunnelled = median(tunnelMBs);
    const result = {
      bench: 'proxy-throughput',
      goal: 'ratio >= 0.8',
      megabytes: TOTAL_BYTES / (1024 * 1024),
      rounds: ROUNDS,
      rawRelayMBs: round(raw, 1),
      anthropicRouteMBs: round(route, 1),
      connectTunnelMBs: round(tunnelled, 1),
      // Each ratio is the median of per-round ratios: a round's three runs are adjacent in time,
      // so load from elsewhere on the machine falls on them alike.
      anthropicRouteOverRaw: round(median(routeMBs.map((v, i) => v / (rawMBs[i] ?? v)))),
      connectTunnelOverRaw: round(median(tunnelMBs.map((v, i) => v / (rawMBs[i] ?? v)))),
      // CPU the inline proxy's process spends per MB (median over rounds; null without /proc).
      proxyCpuMsPerMB: {
        rawRelay: cpuFigure(rawCpu),
        anthropicRoute: cpuFigure(routeCpu),
        connectTunnel: cpuFigure(tunnelCpu),
      },
      processAnthropicRouteMBs: round(median(processRouteMBs), 1),
      processConnectTunnelMBs: round(median(processTunnelMBs), 1),
      processAnthropicRouteOverRaw: round(
        median(processRouteMBs.map((v, i) => v / (rawMBs[i] ?? v))),
      ),
      processConnectTunnelOverRaw: round(
        median(processTunnelMBs.map((v, i) => v / (rawMBs[i] ?? v))),
      ),
    };
    console.log(JSON.stringify(result));
    console.log(
      `streaming throughput: Anthropic route ${result.anthropicRouteMBs} MB/s = ${result.anthropicRouteOverRaw}x, ` +
        `CONNECT tunnel ${result.connectTunnelMBs} MB/s = ${result.connectTunnelOverRaw}x ` +
        `a raw relay over the same Unix socket (${result.rawRelayMBs} MB/s; goal >= 0.8); ` +
        `proxy process: Anthropic route ${result.processAnthropicRouteOverRaw}x, ` +
        `CONNECT tunnel ${result.processConnectTunnelOverRaw}x; ` +
        `proxy CPU per MB: relay ${result.proxyCpuMsPerMB.rawRelay} ms, ` +
        `Anthropic route ${result.proxyCpuMsPerMB.anthropicRoute} ms, ` +
        `CONNECT tunnel ${result.proxyCpuMsPerMB.connectTunnel} ms`,
    );
  } finally {
    for (const s of [server, isolated.server]) {
      const exited = new Promise((resolve) => s.once('exit', resolve));
      s.kill('SIGTERM');
      await exited;
    }
    upstream.server.closeAllConnections();
    await new Promise<void>((resolve) => upstream.server.close(() => resolve()));
  }
}

await main();
