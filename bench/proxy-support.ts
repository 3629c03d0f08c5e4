import type { Writable } from 'node:stream';
/**
 * Shared set-up for the proxy benchmarks: a proxy listener on a temporary Unix socket, a raw
 * byte relay on another Unix socket to the same upstream (the baseline: what the egress path
 * costs with no proxy logic at all), and small statistics helpers.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import {
  CredentialProxy,
  parseCidrList,
  parseEgressPatterns,
  type CredentialProxyOptions,
} from '../packages/proxy/src/index.js';
import { PolicyStore } from '../packages/host/src/egress/policy-store.js';
import { ProcessEgressGateway } from '../packages/host/src/egress/process-gateway.js';
import { DirectoryObjectStore } from '../packages/host/src/storage/directory-store.js';

export const BENCH_API_KEY = 'sk-ant-bench-not-a-real-key';

export interface BenchProxy {
  socketPath: string;
  close(): Promise<void>;
}

/** A proxy whose policy allows `good.example:<upstreamPort>` (resolving to 127.0.0.1). */
export async function startBenchProxy(
  upstreamPort: number,
  options: Partial<CredentialProxyOptions> = {},
): Promise<BenchProxy> {
  const dir = mkdtempSync(join(tmpdir(), 'workcell-bench-proxy-'));
  const proxy = new CredentialProxy({
    anthropic: {
      upstream: new URL(`http://127.0.0.1:${upstreamPort}`),
      apiKey: () => BENCH_API_KEY,
    },
    resolve: async () => ['127.0.0.1'],
    audit: () => undefined,
    logger: pino({ level: 'silent' }),
    ...options,
  });
  const policy = {
    allow: parseEgressPatterns(`good.example:${upstreamPort}`, 'WORKCELL_EGRESS_ALLOW'),
    deny: [],
    allowPrivate: parseCidrList('127.0.0.1/32', 'WORKCELL_EGRESS_ALLOW_PRIVATE'),
  };
  const socketPath = join(dir, 'egress.sock');
  await proxy.listen(socketPath, { workspaceId: 'bench', containerId: null }, () => policy);
  return {
    socketPath,
    async close() {
      await proxy.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The proxy as WORKCELL_PROXY_ISOLATION=process runs it: this process is the host's side
 * (`ProcessEgressGateway`, audit records arriving over IPC) and the proxy runs in the process it
 * forks. The proxy process resolves names itself, so the policy allows `localhost:<port>`.
 */
export async function startProcessBenchProxy(upstreamPort: number): Promise<BenchProxy> {
  const dir = mkdtempSync(join(tmpdir(), 'workcell-bench-proxy-process-'));
  const logger = pino({ level: 'silent' });
  const policies = new PolicyStore(
    {
      allow: parseEgressPatterns(`localhost:${upstreamPort}`, 'WORKCELL_EGRESS_ALLOW'),
      deny: [],
      allowPrivate: parseCidrList('127.0.0.1/32,::1/128', 'WORKCELL_EGRESS_ALLOW_PRIVATE'),
    },
    DirectoryObjectStore.forDataDir(join(dir, 'data'), logger),
    logger,
  );
  const gateway = new ProcessEgressGateway({
    process: {
      init: {
        logLevel: 'silent',
        anthropic: {
          upstream: `http://127.0.0.1:${upstreamPort}`,
          apiKey: BENCH_API_KEY,
          operations: [],
        },
        bedrock: null,
        limits: {},
        interception: null,
      },
      logger,
      childLogger: logger,
      audit: () => undefined,
    },
    policies,
    secrets: null,
    logger,
  });
  await gateway.start();
  const socketPath = join(dir, 'egress.sock');
  const attachment = await gateway.attach(socketPath, {
    workspaceId: 'bench',
    tenant: 'bench',
    containerId: null,
  });
  await policies.load('bench', 'bench');
  await gateway.flush();
  return {
    socketPath,
    async close() {
      await attachment.close();
      await gateway.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A raw relay: every connection on its Unix socket is piped, byte for byte, to the upstream port. */
export async function startRawRelay(upstreamPort: number): Promise<BenchProxy> {
  const dir = mkdtempSync(join(tmpdir(), 'workcell-bench-relay-'));
  const socketPath = join(dir, 'relay.sock');
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect({ host: '127.0.0.1', port: upstreamPort, noDelay: true });
    sockets.add(client);
    sockets.add(upstream);
    const done = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    // Ends travel through the pipes (after a flush); errors and a closed client tear both down.
    client.on('error', done);
    upstream.on('error', done);
    client.on('close', done);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  return {
    socketPath,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => {
          rmSync(dir, { recursive: true, force: true });
          resolve();
        });
      }),
  };
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

export const median = (values: number[]): number => percentile(values, 50);

export const round = (n: number, digits = 2): number => Number(n.toFixed(digits));

/**
 * CPU time (user + system) process `pid` has used so far, in ms, from /proc (Linux; null
 * elsewhere). Load from other work stretches a throughput figure but barely moves this one.
 */
export function processCpuMs(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    // utime and stime, the 14th and 15th fields of the line, in USER_HZ (100 per second).
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return null;
  }
}

/** Runs `work` and answers how many ms of CPU process `pid` used meanwhile, per MB moved. */
export async function cpuPerMB<T>(
  pid: number | undefined,
  megabytes: number,
  work: () => Promise<T>,
): Promise<{ result: T; cpuMsPerMB: number | null }> {
  const before = processCpuMs(pid);
  const result = await work();
  const after = processCpuMs(pid);
  return {
    result,
    cpuMsPerMB: before === null || after === null ? null : (after - before) / megabytes,
  };
}

/** Writes `total` bytes of `chunk` to `res` as fast as the reader takes them, then ends it. */
export function streamBytes(res: Writable, total: number, chunk: Buffer): void {
  let sent = 0;
  const pump = (): void => {
    while (sent < total) {
      sent += chunk.length;
      if (!res.write(chunk)) {
        res.once('drain', pump);
        return;
      }
    }
    res.end();
  };
  pump();
}
