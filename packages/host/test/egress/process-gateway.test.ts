import { existsSync, mkdtempSync, rmSync, unlinkSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { connect, createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  parseCidrList,
  parseEgressPatterns,
  type AuditRecord,
  type EgressPolicy,
} from '@workcell/proxy';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PolicyStore } from '../../src/egress/policy-store.js';
import { ProcessEgressGateway } from '../../src/egress/process-gateway.js';
import { DirectoryObjectStore } from '../../src/storage/directory-store.js';

const logger = pino({ level: 'silent' });

/** One absolute-form GET through the egress socket; answers the status. */
function get(socketPath: string, url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const req = request(
      { socketPath, path: url, headers: { host: target.host }, agent: false },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

async function waitFor(check: () => boolean, timeoutMs: number): Promise<number> {
  const started = performance.now();
  while (!check()) {
    if (performance.now() - started > timeoutMs) throw new Error(`not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return performance.now() - started;
}

/** The gateway over a real proxy process (forked from the proxy package's sources). */
describe('the egress gateway over a supervised proxy process', () => {
  let dir: string;
  let upstream: Server;
  let port: number;
  let gateway: ProcessEgressGateway;
  let policies: PolicyStore;
  const audits: AuditRecord[] = [];
  let deaths = 0;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'wc-proxy-process-'));
    upstream = createServer((_req, res) => res.end('upstream'));
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    port = (upstream.address() as AddressInfo).port;
    const operator: EgressPolicy = {
      allow: parseEgressPatterns(`127.0.0.1:${port}`, 'WORKCELL_EGRESS_ALLOW'),
      deny: [],
      allowPrivate: parseCidrList('127.0.0.1', 'WORKCELL_EGRESS_ALLOW_PRIVATE'),
    };
    policies = new PolicyStore(
      operator,
      DirectoryObjectStore.forDataDir(join(dir, 'data'), logger),
      logger,
    );
    gateway = new ProcessEgressGateway({
      process: {
        init: {
          logLevel: 'silent',
          anthropic: null,
          bedrock: null,
          limits: {},
          interception: null,
        },
        logger,
        childLogger: logger,
        audit: (record) => audits.push(record),
        died: () => {
          deaths += 1;
        },
      },
      policies,
      secrets: null,
      logger,
    });
    await gateway.start();
  });

  afterAll(async () => {
    await gateway?.close();
    upstream?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves a listener, restarts a killed process within a second on the same socket, and keeps pushing policy changes', async () => {
    const socketPath = join(dir, 'egress.sock');
    const attachment = await gateway.attach(socketPath, {
      workspaceId: 'ws_a',
      tenant: 't1',
      containerId: 'c1',
    });
    const url = `http://127.0.0.1:${port}/`;
    await waitFor(() => policies.cached('ws_a').allow.length > 0, 5_000);
    await gateway.flush();
    expect(await get(socketPath, url)).toBe(200);
    await waitFor(() => audits.length > 0, 2_000);
    expect(audits.at(-1)).toMatchObject({ workspaceId: 'ws_a', decision: 'allow', status: 200 });

    await waitFor(() => gateway.status().standby, 10_000);
    const before = gateway.status();
    expect(before.state).toBe('running');
    process.kill(before.pid ?? 0, 'SIGKILL');
    const restartMs = await waitFor(
      () => gateway.status().restarts === 1 && gateway.status().state === 'running',
      2_000,
    );
    expect(restartMs).toBeLessThan(1_000);
    expect(deaths).toBe(1);
    expect(gateway.status()).toMatchObject({ lastExit: { code: null, signal: 'SIGKILL' } });
    expect(gateway.status().pid).not.toBe(before.pid);
    expect(await get(socketPath, url)).toBe(200);

    // A narrowing is in force in the new process once it is stored.
    await policies.set('t1', 'ws_a', []);
    expect(await get(socketPath, url)).toBe(403);
    await policies.set('t1', 'ws_a', null);
    expect(await get(socketPath, url)).toBe(200);

    await attachment.close();
    expect(existsSync(socketPath)).toBe(false);
  });

  it('re-creates the listener of a container attached while the process was down', async () => {
    const pid = gateway.status().pid ?? 0;
    process.kill(pid, 'SIGKILL');
    await waitFor(() => gateway.status().pid !== pid, 2_000);
    const socketPath = join(dir, 'late.sock');
    const attachment = await gateway.attach(socketPath, {
      workspaceId: 'ws_b',
      tenant: 't1',
      containerId: 'c2',
    });
    await waitFor(() => policies.cached('ws_b').allow.length > 0, 5_000);
    await gateway.flush();
    expect(await get(socketPath, `http://127.0.0.1:${port}/`)).toBe(200);
    await attachment.close();
  });

  it('leaves a socket another host took over to that host when the process restarts', async () => {
    const socketPath = join(dir, 'taken.sock');
    const attachment = await gateway.attach(socketPath, {
      workspaceId: 'ws_c',
      tenant: 't1',
      containerId: 'c3',
    });
    // Another host's proxy replaces the socket file (as a take-over does), then ours dies.
    unlinkSync(socketPath);
    const other = createNetServer((socket) => {
      socket.on('error', () => undefined);
      socket.end('other host\n');
    });
    await new Promise<void>((r) => other.listen(socketPath, r));
    const pid = gateway.status().pid ?? 0;
    process.kill(pid, 'SIGKILL');
    await waitFor(
      () => gateway.status().pid !== pid && gateway.status().state === 'running',
      5_000,
    );
    await gateway.flush();
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(socketPath);
      let text = '';
      socket.on('data', (d: Buffer) => (text += d.toString()));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    expect(answer).toBe('other host\n');
    await attachment.close();
    expect(existsSync(socketPath)).toBe(true);
    await new Promise<void>((r) => other.close(() => r()));
  });

  it('closes the proxy process cleanly on shutdown, without waiting to kill it', async () => {
    const pid = gateway.status().pid ?? 0;
    const started = performance.now();
    await gateway.close();
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(() => process.kill(pid, 0)).toThrow(/ESRCH/);
    expect(gateway.status().state).toBe('stopped');
  });
});
