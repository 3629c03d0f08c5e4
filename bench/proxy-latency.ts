/**
 * Latency the credential proxy adds to a small request: the Anthropic route (key injection,
 * keep-alive on both sides) against a direct keep-alive request to the same upstream, measured
 * in this run, one request at a time. Also reported: an absolute-form egress request (policy,
 * resolution and a fresh upstream connection each time). Goal: under 0.5 ms added at p50.
 * Run: npx tsx bench/proxy-latency.ts (BENCH_REQUESTS, default 4000 per path).
 */
import { Agent, createServer, request, type RequestOptions } from 'node:http';
import type { AddressInfo } from 'node:net';
import { percentile, round, startBenchProxy } from './proxy-support.js';

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 4_000);
const BODY = JSON.stringify({ model: 'claude', messages: [{ role: 'user', content: 'ping' }] });

function once(options: RequestOptions): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = request(options, (res) => {
      res.resume();
      res.on('end', () => resolve(performance.now() - started));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(BODY);
  });
}

async function main(): Promise<void> {
  const upstream = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end('{"id":"msg_1","type":"message","content":[]}');
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const port = (upstream.address() as AddressInfo).port;
  const proxy = await startBenchProxy(port);
  const directAgent = new Agent({ keepAlive: true, maxSockets: 1 });
  const proxyAgent = new Agent({ keepAlive: true, maxSockets: 1 });
  const headers = {
    'Content-Type': 'application/json',
    'Content-Length': String(Buffer.byteLength(BODY)),
    'x-api-key': 'placeholder',
  };
  const direct: RequestOptions = {
    host: '127.0.0.1',
    port,
    method: 'POST',
    path: '/v1/messages',
    headers,
    agent: directAgent,
  };
  const viaRoute: RequestOptions = {
    socketPath: proxy.socketPath,
    method: 'POST',
    path: '/_workcell/anthropic/v1/messages',
    headers: { ...headers, Host: '127.0.0.1:3128' },
    agent: proxyAgent,
  };
  const viaEgress: RequestOptions = {
    socketPath: proxy.socketPath,
    method: 'POST',
    path: `http://good.example:${port}/v1/messages`,
    headers: { ...headers, Host: `good.example:${port}` },
    agent: proxyAgent,
  };
  try {
    for (let i = 0; i < 300; i += 1) {
      await once(direct);
      await once(viaRoute);
      await once(viaEgress);
    }
    const d: number[] = [];
    const r: number[] = [];
    const e: number[] = [];
    // Interleaved, so background load falls on every path alike.
    for (let i = 0; i < REQUESTS; i += 1) {
      d.push(await once(direct));
      r.push(await once(viaRoute));
      e.push(await once(viaEgress));
    }
    const p = (values: number[], q: number): number => round(percentile(values, q), 3);
    const result = {
      bench: 'proxy-latency',
      goal: 'added p50 < 0.5 ms',
      requests: REQUESTS,
      directMs: { p50: p(d, 50), p99: p(d, 99) },
      anthropicRouteMs: { p50: p(r, 50), p99: p(r, 99) },
      absoluteFormEgressMs: { p50: p(e, 50), p99: p(e, 99) },
      anthropicRouteAddedMs: {
        p50: round(percentile(r, 50) - percentile(d, 50), 3),
        p99: round(percentile(r, 99) - percentile(d, 99), 3),
      },
      anthropicRouteOverDirect: {
        p50: round(percentile(r, 50) / percentile(d, 50)),
        p99: round(percentile(r, 99) / percentile(d, 99)),
      },
      absoluteFormEgressOverDirect: { p50: round(percentile(e, 50) / percentile(d, 50)) },
    };
    console.log(JSON.stringify(result));
    console.log(
      `added latency, Anthropic route: p50 +${result.anthropicRouteAddedMs.p50} ms (${result.anthropicRouteMs.p50} ms = ` +
        `${result.anthropicRouteOverDirect.p50}x direct ${result.directMs.p50} ms; goal < 0.5 ms added); ` +
        `absolute-form egress p50 ${result.absoluteFormEgressMs.p50} ms = ${result.absoluteFormEgressOverDirect.p50}x direct`,
    );
  } finally {
    directAgent.destroy();
    proxyAgent.destroy();
    await proxy.close();
    upstream.closeAllConnections();
    await new Promise<void>((resolve) => upstream.close(() => resolve()));
  }
}

await main();
