/**
 * The SSE relay, without Docker. (1) Events per second on one connection: a live run's events
 * appended to the RunEventLog as fast as it takes them and relayed by the real API route
 * (follow, SseWriter, backpressure), against a bare `res.write` loop of the same bytes in the
 * same process, read by the same client (median of 5 alternating rounds). (2) Memory per idle SSE connection with 1,000 clients
 * connected to a live run (clients in a child process, so only the server is measured), against
 * 1,000 idle bare `text/event-stream` responses. Run: npx tsx bench/api-sse.ts
 * (BENCH_EVENTS, default 50000; BENCH_CLIENTS, default 1000).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { buildApi } from '../packages/host/src/api/app.js';
import { formatSseEvent } from '../packages/host/src/api/sse.js';
import { TenantRateLimiter } from '../packages/host/src/auth/rate-limit.js';
import { TokenAuthenticator } from '../packages/host/src/auth/tokens.js';
import { Catalog, type RunRecord } from '../packages/host/src/catalog/catalog.js';
import type { ContainerRuntime } from '../packages/host/src/containers/runtime.js';
import { AuditTrail } from '../packages/host/src/egress/gateway.js';
import type { PolicyStore } from '../packages/host/src/egress/policy-store.js';
import type { SecretStore } from '../packages/host/src/secrets/secret-store.js';
import { ExecuteService } from '../packages/host/src/execute/execute-service.js';
import { RunEventLog } from '../packages/host/src/execute/run-events.js';
import type { FilesService } from '../packages/host/src/files/files-service.js';
import type { ArchiveService } from '../packages/host/src/archive/archive-service.js';
import { HealthChecks } from '../packages/host/src/metrics/health.js';
import { WorkcellMetrics } from '../packages/host/src/metrics/metrics.js';
import { MemoryStateStore } from '../packages/host/src/state/memory-store.js';
import type { BufferedEvent } from '../packages/host/src/state/state-store.js';
import { DirectoryObjectStore } from '../packages/host/src/storage/directory-store.js';
import { round } from './api-support.js';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 50_000);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 1_000);
const ROUNDS = 5;
const TOKEN = 'bench-token-0123456789abcdef';
/** A realistic partial message: one text delta as the SDK streams it. */
const PAYLOAD = JSON.stringify({
  type: 'stream_event',
  event: { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'x' } },
  parent_tool_use_id: null,
  uuid: '5c8a1f5e-6a43-4e37-9d8e-0b7f6d3c2a91',
  session_id: 'b753a8e4-2c8b-4af6-a3e1-112c3e6eaedf',
});

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

interface Api {
  app: FastifyInstance;
  url: string;
  events: RunEventLog;
  /** Records a running run of a new conversation and opens its live log. */
  liveRun(): Promise<{ conversationId: string; runId: string }>;
  close(): Promise<void>;
}

/** The real API over real catalog, state store and event log; no container is ever asked for. */
async function startApi(): Promise<Api> {
  const dir = mkdtempSync(join(tmpdir(), 'workcell-bench-sse-'));
  const logger = pino({ level: 'silent' });
  const objects = new DirectoryObjectStore({ root: dir });
  const state = new MemoryStateStore();
  const catalog = new Catalog(objects);
  const events = new RunEventLog(state, { logger });
  const metrics = new WorkcellMetrics(() => state.listContainers(), { defaultMetrics: false });
  const unused = {} as never;
  const execute = new ExecuteService({
    catalog,
    workspaces: unused,
    state,
    events,
    logger,
    settings: {
      runTimeoutMs: 60_000,
      maxPromptBytes: 1024,
      eventBufferTtlMs: 60_000,
    },
  });
  const app = await buildApi({
    auth: new TokenAuthenticator(new Map([[TOKEN, 'bench']])),
    rateLimit: new TenantRateLimiter(state, 0, logger),
    tickets: unused,
    catalog,
    containers: unused,
    workspaces: unused,
    approvals: unused,
    webhooks: unused,
    control: unused,
    terminals: unused,
    execute,
    exec: unused,
    snapshots: unused,
    forks: unused,
    agentSettings: unused,
    usage: unused,
    events,
    files: unused as FilesService,
    archives: unused as ArchiveService,
    egress: { policies: unused as PolicyStore, audit: new AuditTrail() },
    secrets: unused as SecretStore,
    health: new HealthChecks({
      runtime: unused as ContainerRuntime,
      state,
      objects,
      image: 'x',
      accepting: () => true,
    }),
    metrics,
    state,
    runtime: unused as ContainerRuntime,
    logger,
    limits: {
      maxFileBytes: 1024,
      maxJsonBytes: 64 * 1024,
      maxExecOutputBytes: 1024,
      maxArchiveBytes: 1024,
    },
    version: 'bench',
  });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  let n = 0;
  return {
    app,
    url,
    events,
    async liveRun() {
      const ws = await catalog.createWorkspace('bench', 'w');
      const conv = await catalog.createConversation('bench', ws.id, 'c');
      n += 1;
      const runId = `run_bench${String(n).padStart(11, '0')}`;
      const run: RunRecord = {
        id: runId,
        conversationId: conv.id,
        status: 'running',
        startedAt: new Date().toISOString(),
        endedAt: null,
        interrupted: false,
        error: null,
        summary: null,
        eventCount: 0,
      };
      await catalog.updateConversation(conv, (c) => c.runs.push(run));
      events.open(runId);
      events.append(runId, 'run.started', { runId });
      return { conversationId: conv.id, runId };
    },
    async close() {
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Reads an SSE response, counting events until the terminal one; answers events/s from the first byte. */
async function consume(res: Response): Promise<{ events: number; perSecond: number }> {
  const reader = res.body?.getReader();
  if (!reader) throw new Error('no body');
  const decoder = new TextDecoder();
  let tail = '';
  let count = 0;
  let first = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (first === 0) first = performance.now();
    const text = tail + decoder.decode(value, { stream: true });
    const blocks = text.split('\n\n');
    tail = blocks.pop() ?? '';
    for (const block of blocks) if (block.includes('\nevent: ')) count += 1;
  }
  return { events: count, perSecond: count / ((performance.now() - first) / 1000) };
}

async function relayThroughput(api: Api): Promise<{ events: number; perSecond: number }> {
  const { conversationId, runId } = await api.liveRun();
  const res = await fetch(`${api.url}/v1/conversations/${conversationId}/runs/${runId}/events`, {
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  const reading = consume(res);
  const message = JSON.parse(PAYLOAD) as unknown;
  for (let i = 0; i < EVENTS; i += 1) {
    api.events.append(runId, 'message', message);
    if (i % 200 === 199) await new Promise((r) => setImmediate(r));
  }
  await api.events.end(runId, 'run.completed', { runId }, async () => undefined);
  return reading;
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function bareThroughput(): Promise<{ events: number; perSecond: number }> {
  const server = createServer(async (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(formatSseEvent({ seq: 1, event: 'run.started', data: '{}' }));
    for (let i = 0; i < EVENTS; i += 1) {
      const e: BufferedEvent = { seq: i + 2, event: 'message', data: PAYLOAD };
      if (!res.write(formatSseEvent(e))) await new Promise((r) => res.once('drain', r));
      if (i % 200 === 199) await new Promise((r) => setImmediate(r));
    }
    res.end(formatSseEvent({ seq: EVENTS + 2, event: 'run.completed', data: '{}' }));
  });
  const url = await listen(server);
  try {
    return await consume(await fetch(url));
  } finally {
    server.closeAllConnections();
    server.close();
  }
}

/** Opens `count` idle SSE connections from a child process; answers once every one has its headers. */
async function connectClients(
  url: string,
  path: string,
  count: number,
): Promise<() => Promise<void>> {
  const { hostname, port } = new URL(url);
  const script = `
    const net = require('node:net');
    let ready = 0;
    const sockets = [];
    for (let i = 0; i < ${count}; i++) {
      const s = net.connect(${port}, '${hostname}', () => s.write('GET ${path} HTTP/1.1\\r\\nHost: x\\r\\nAuthorization: Bearer ${TOKEN}\\r\\nAccept: text/event-stream\\r\\n\\r\\n'));
      let seen = false;
      s.on('data', (d) => { if (!seen && d.toString().includes('200')) { seen = true; if (++ready === ${count}) process.stdout.write('ready\\n'); } });
      s.on('error', (e) => { process.stderr.write(String(e) + '\\n'); process.exit(1); });
      sockets.push(s);
    }
    process.stdin.on('data', () => { for (const s of sockets) s.destroy(); process.exit(0); });
  `;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
    child.once('exit', (code) => reject(new Error(`clients exited with ${code}`)));
  });
  return async () => {
    const exited = new Promise((r) => child.once('exit', r));
    child.stdin.write('bye\n');
    await exited;
  };
}

async function settledMemory(): Promise<number> {
  for (let i = 0; i < 3; i += 1) {
    gc();
    await new Promise((r) => setTimeout(r, 50));
  }
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

async function idleMemoryPerConnection(url: string, path: string): Promise<number> {
  const before = await settledMemory();
  const disconnect = await connectClients(url, path, CLIENTS);
  await new Promise((r) => setTimeout(r, 300));
  const after = await settledMemory();
  await disconnect();
  return (after - before) / CLIENTS;
}

async function main(): Promise<void> {
  const api = await startApi();
  try {
    // Warm both paths (JIT), then alternate them so both see the same machine noise; medians.
    await relayThroughput(api);
    await bareThroughput();
    const relays: { events: number; perSecond: number }[] = [];
    const bares: { events: number; perSecond: number }[] = [];
    for (let i = 0; i < ROUNDS; i += 1) {
      relays.push(await relayThroughput(api));
      bares.push(await bareThroughput());
    }
    const median = (
      list: { events: number; perSecond: number }[],
    ): { events: number; perSecond: number } =>
      [...list].sort((a, b) => a.perSecond - b.perSecond)[Math.floor(list.length / 2)] ?? {
        events: 0,
        perSecond: NaN,
      };
    const relay = median(relays);
    const bare = median(bares);

    const held = new Set<ServerResponse>();
    const bareServer = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.write('retry: 2000\n\n');
      held.add(res);
    });
    const bareUrl = await listen(bareServer);
    const bareBytes = await idleMemoryPerConnection(bareUrl, '/');
    bareServer.closeAllConnections();
    bareServer.close();
    held.clear();

    const { conversationId, runId } = await api.liveRun();
    const sseBytes = await idleMemoryPerConnection(
      api.url,
      `/v1/conversations/${conversationId}/runs/${runId}/events`,
    );

    const result = {
      events: EVENTS,
      relayEventsPerSecond: Math.round(relay.perSecond),
      bareWriteEventsPerSecond: Math.round(bare.perSecond),
      relayOverBare: round(relay.perSecond / bare.perSecond),
      clients: CLIENTS,
      idleSseBytesPerConnection: Math.round(sseBytes),
      idleBareBytesPerConnection: Math.round(bareBytes),
      idleMemoryOverBare: round(sseBytes / bareBytes),
    };
    for (const r of [...relays, ...bares])
      if (r.events !== EVENTS + 2)
        throw new Error(`lost events: a stream had ${r.events} of ${EVENTS + 2}`);
    console.log(JSON.stringify(result));
    console.log(
      `SSE relay ${result.relayEventsPerSecond} events/s on one connection = ${result.relayOverBare}x a bare res.write loop (${result.bareWriteEventsPerSecond}/s); ` +
        `${CLIENTS} idle SSE clients cost ${(sseBytes / 1024).toFixed(1)} KiB each (JS heap + external) = ${result.idleMemoryOverBare}x an idle bare event-stream response`,
    );
  } finally {
    await api.close();
  }
}

await main();
