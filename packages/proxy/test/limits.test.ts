import { connect, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseCidrList, parseEgressPatterns, type EgressPolicy } from '../src/index.js';
import {
  rawExchange,
  secretHits,
  SECRETS,
  startProxy,
  startUpstream,
  statusOf,
  type ProxyHarness,
  type Upstream,
} from './helpers.js';

/**
 * One workspace cannot exhaust what every workspace shares: connections and tunnels are capped
 * per listener, quiet peers are timed out, and request bodies held in memory draw on one
 * host-wide budget. Each cap is set low here and then hit.
 */
let upstream: Upstream;
let harness: ProxyHarness;
const open: Socket[] = [];

beforeAll(async () => {
  upstream = await startUpstream((_req, res) => res.end('ok'), '127.0.0.2');
});

afterAll(async () => {
  await upstream.close();
  expect(secretHits()).toEqual([]);
});

afterEach(async () => {
  for (const socket of open.splice(0)) socket.destroy();
  await harness.close();
});

function policyFor(hosts: string): EgressPolicy {
  return {
    allow: parseEgressPatterns(hosts, 'WORKCELL_EGRESS_ALLOW'),
    deny: [],
    allowPrivate: parseCidrList('127.0.0.2/32', 'WORKCELL_EGRESS_ALLOW_PRIVATE'),
  };
}

/** Connects to the listener and keeps the socket (closed after the test). */
function dial(socketPath: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath, () => resolve(socket));
    socket.once('error', reject);
    open.push(socket);
  });
}

/** Everything the peer sends until it closes the socket; rejects after `ms`. */
function readUntilClosed(socket: Socket, ms: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`still open after ${ms} ms`)), ms);
    socket.on('data', (c: Buffer) => (out += c.toString('latin1')));
    socket.on('error', () => undefined);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
  });
}

/** Opens a CONNECT tunnel; answers the socket and the proxy's status line. */
async function tunnel(
  socketPath: string,
  target: string,
): Promise<{ socket: Socket; head: string }> {
  const socket = await dial(socketPath);
  socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`);
  const head = await new Promise<string>((resolve) => {
    let out = '';
    const onData = (c: Buffer): void => {
      out += c.toString('latin1');
      if (!out.includes('\r\n\r\n')) return;
      socket.removeListener('data', onData);
      resolve(out);
    };
    socket.on('data', onData);
    socket.once('close', () => resolve(out));
  });
  return { socket, head };
}

describe('per-listener caps', () => {
  it('answers 503 with Retry-After past the connection cap, and accepts again once one closes', async () => {
    harness = await startProxy({ limits: { maxConnectionsPerListener: 5 } });
    const held: Socket[] = [];
    for (let i = 0; i < 5; i += 1) held.push(await dial(harness.socketPath));
    const extra = await dial(harness.socketPath);
    const answer = await readUntilClosed(extra, 2_000);
    expect(statusOf(answer)).toBe(503);
    expect(answer).toMatch(/Retry-After: 1/);
    expect(answer).toContain('"code":"proxy_at_capacity"');
    held[0]?.destroy();
    await new Promise((r) => setTimeout(r, 50));
    const again = await rawExchange(
      harness.socketPath,
      'GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n',
      300,
    );
    expect(statusOf(again)).toBe(400);
    const records = await harness.waitForAudit(1);
    expect(records.some((r) => r.reason === 'connection-limit' && r.status === 503)).toBe(true);
  });

  it('answers 503 with Retry-After past the tunnel cap', async () => {
    harness = await startProxy({
      resolve: async () => ['127.0.0.2'],
      policy: policyFor(`good.example:${upstream.port}`),
      limits: { maxTunnelsPerListener: 2 },
    });
    const target = `good.example:${upstream.port}`;
    expect((await tunnel(harness.socketPath, target)).head).toMatch(/^HTTP\/1.1 200/);
    expect((await tunnel(harness.socketPath, target)).head).toMatch(/^HTTP\/1.1 200/);
    const third = await tunnel(harness.socketPath, target);
    expect(statusOf(third.head)).toBe(503);
    expect(third.head).toMatch(/Retry-After: 1/);
  });
});

describe('timeouts', () => {
  it('closes a tunnel with no traffic either way for the idle time', async () => {
    harness = await startProxy({
      resolve: async () => ['127.0.0.2'],
      policy: policyFor(`good.example:${upstream.port}`),
      limits: { tunnelIdleTimeoutMs: 200 },
    });
    const { socket, head } = await tunnel(harness.socketPath, `good.example:${upstream.port}`);
    expect(head).toMatch(/^HTTP\/1.1 200/);
    await readUntilClosed(socket, 3_000);
  });

  it('closes a connection that never finishes its headers', async () => {
    harness = await startProxy({ limits: { headersTimeoutMs: 300 } });
    const socket = await dial(harness.socketPath);
    socket.write('POST /_workcell/anthropic/v1/messages HTTP/1.1\r\nHost: x\r\n');
    await readUntilClosed(socket, 3_000);
  });

  it('closes a connection whose body stops short', async () => {
    harness = await startProxy({
      anthropic: { upstream: upstream.url, apiKey: () => SECRETS.anthropicKey },
      limits: { requestTimeoutMs: 400, headersTimeoutMs: 300 },
    });
    const socket = await dial(harness.socketPath);
    socket.write(
      'POST /_workcell/anthropic/v1/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789',
    );
    await readUntilClosed(socket, 4_000);
  });
});

describe('the host-wide body budget', () => {
  it('refuses a Bedrock upload with 503 and Retry-After once bodies in memory reach the cap, across workspaces', async () => {
    harness = await startProxy({
      bedrock: {
        upstream: upstream.url,
        region: 'us-east-1',
        credentials: async () => ({
          accessKeyId: SECRETS.accessKeyId,
          secretAccessKey: SECRETS.secretAccessKey,
        }),
        maxBodyBytes: 1024 * 1024,
      },
      limits: { maxBufferedBodyBytes: 100 * 1024 },
    });
    const other = await harness.proxy.listen(
      `${harness.socketPath}.2`,
      { workspaceId: 'ws-other', containerId: null },
      () => policyFor('none.example'),
    );
    const size = 40 * 1024;
    const start = (socketPath: string): Promise<Socket> =>
      dial(socketPath).then((socket) => {
        socket.write(
          `POST /_workcell/bedrock/model/m/invoke HTTP/1.1\r\nHost: x\r\nContent-Length: ${size}\r\n\r\n`,
        );
        socket.write(Buffer.alloc(size - 1, 'a'));
        return socket;
      });
    // Two uploads held one byte short: 80 KiB of the 100 KiB budget.
    const held = [await start(harness.socketPath), await start(other.socketPath)];
    await new Promise((r) => setTimeout(r, 200));
    expect(harness.proxy.bufferedBodyBytes).toBe(2 * (size - 1));
    const third = await start(harness.socketPath);
    const answer = await readUntilClosed(third, 3_000);
    expect(statusOf(answer)).toBe(503);
    expect(answer).toMatch(/Retry-After: 1/);
    expect(harness.proxy.bufferedBodyBytes).toBeLessThanOrEqual(100 * 1024);
    for (const socket of held) socket.destroy();
    await new Promise((r) => setTimeout(r, 100));
    expect(harness.proxy.bufferedBodyBytes).toBe(0);
    expect(upstream.requests.filter((r) => r.url.includes('/model/'))).toEqual([]);
  });
});
