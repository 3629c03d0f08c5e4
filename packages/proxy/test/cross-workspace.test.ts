import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { EgressListener } from '../src/index.js';
import { EMPTY_POLICY, parseCidrList, parseEgressPatterns } from '../src/index.js';
import {
  proxyRequest,
  rawExchange,
  secretHits,
  SECRETS,
  startCanary,
  startProxy,
  startUpstream,
  statusOf,
  type Canary,
  type ProxyHarness,
  type Upstream,
} from './helpers.js';

/**
 * A hostile workspace shares the proxy process, its model upstream and (before the fix) its
 * keep-alive pool with every other workspace. These attacks go for what is shared: a request
 * the framing check and the parser read differently, whose leftover bytes would prefix the next
 * workspace's request on a pooled upstream connection.
 */
let upstream: Upstream;
let canary: Canary;
let harness: ProxyHarness;
let victimDir: string;
let victim: EgressListener;
/** Upstream socket (by remote port) of every request, with the workspace it claims to be from. */
const seenOn: Array<{ port: number; from: string; url: string; method: string }> = [];

beforeAll(async () => {
  canary = await startCanary();
  upstream = await startUpstream((req, res) => {
    seenOn.push({
      port: req.socket.remotePort ?? 0,
      from: String(req.headers['x-from'] ?? ''),
      url: req.url ?? '',
      method: req.method ?? '',
    });
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ ok: true }));
  });
});

afterAll(async () => {
  await upstream.close();
  await canary.close();
  expect(secretHits()).toEqual([]);
});

async function startTwoWorkspaces(): Promise<void> {
  harness = await startProxy({
    anthropic: { upstream: upstream.url, apiKey: () => SECRETS.anthropicKey },
    resolve: async () => ['127.0.0.2'],
    policy: {
      allow: parseEgressPatterns(`good.example:${upstream.port}`, 'WORKCELL_EGRESS_ALLOW'),
      deny: [],
      allowPrivate: parseCidrList('127.0.0.2/32', 'WORKCELL_EGRESS_ALLOW_PRIVATE'),
    },
  });
  victimDir = mkdtempSync(join(tmpdir(), 'workcell-proxy-victim-'));
  victim = await harness.proxy.listen(
    join(victimDir, 'egress.sock'),
    { workspaceId: 'ws-victim', containerId: 'ctr-victim' },
    () => EMPTY_POLICY,
  );
}

afterEach(async () => {
  await harness.close();
  rmSync(victimDir, { recursive: true, force: true });
  upstream.requests.length = 0;
  seenOn.length = 0;
});

/** `count` padding header lines. */
function padding(count: number): string {
  let out = '';
  for (let i = 0; i < count; i += 1) out += `X-Pad-${i}: p\r\n`;
  return out;
}

/** A chunked body holding `text` as one chunk, then the last chunk. */
function chunked(text: string): string {
  return `${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n0\r\n\r\n`;
}

function victimMessage(): Promise<{ status: number; body: string }> {
  const body = JSON.stringify({ model: 'claude', messages: [{ role: 'user', content: 'victim' }] });
  return proxyRequest(victim.socketPath, {
    method: 'POST',
    path: '/_workcell/anthropic/v1/messages',
    headers: {
      Host: '127.0.0.1:3128',
      'Content-Type': 'application/json',
      'Content-Length': String(Buffer.byteLength(body)),
      'X-From': 'victim',
    },
    body,
  });
}

describe('a request past the header cap (the parser stops listing headers but still frames)', () => {
  // The smuggled prefix: an unfinished request whose body would swallow the victim's request.
  const prefix =
    'POST /v1/messages/batches HTTP/1.1\r\nHost: api.anthropic.com\r\nX-From: attacker\r\nContent-Length: 400\r\n\r\n';

  it('answers 431 with an audit record on the Anthropic route, and the next workspace is untouched', async () => {
    await startTwoWorkspaces();
    const attack =
      'GET /_workcell/anthropic/v1/messages HTTP/1.1\r\nHost: 127.0.0.1:3128\r\n' +
      padding(1_100) +
      'Transfer-Encoding: chunked\r\n\r\n' +
      chunked(prefix);
    const answer = await rawExchange(harness.socketPath, attack, 300);
    expect(statusOf(answer)).toBe(431);
    expect(answer).toContain('"code":"headers_too_large"');

    const reply = await victimMessage();
    expect(reply.status).toBe(200);
    expect(upstream.requests).toHaveLength(1);
    expect(upstream.requests[0]).toMatchObject({ method: 'POST', url: '/v1/messages' });
    expect(upstream.requests[0]?.body.toString()).toContain('victim');
    expect(upstream.requests[0]?.body.toString()).not.toContain('batches');
    const records = await harness.waitForAudit(1);
    expect(records[0]).toMatchObject({
      workspaceId: 'ws-test',
      decision: 'deny',
      reason: 'too-many-headers',
      status: 431,
    });
  });

  it('answers 431 on the absolute-form and CONNECT paths too, reaching nothing', async () => {
    await startTwoWorkspaces();
    const smuggled = `GET / HTTP/1.1\r\nHost: 127.0.0.1:${canary.port}\r\n\r\n`;
    const absolute =
      `GET http://good.example:${upstream.port}/ HTTP/1.1\r\nHost: good.example:${upstream.port}\r\n` +
      padding(1_100) +
      'Transfer-Encoding: chunked\r\n\r\n' +
      chunked(smuggled);
    expect(statusOf(await rawExchange(harness.socketPath, absolute, 300))).toBe(431);
    const connect =
      `CONNECT good.example:${upstream.port} HTTP/1.1\r\nHost: good.example:${upstream.port}\r\n` +
      padding(200) +
      '\r\n';
    expect(statusOf(await rawExchange(harness.socketPath, connect, 300))).toBe(431);
    expect(upstream.requests).toEqual([]);
    expect(canary.connections).toBe(0);
  });

  it('accepts exactly the cap and refuses one header more', async () => {
    await startTwoWorkspaces();
    const request = (headers: number): string =>
      'POST /_workcell/anthropic/v1/messages HTTP/1.1\r\nHost: 127.0.0.1:3128\r\nContent-Length: 2\r\n' +
      padding(headers - 2) +
      '\r\n{}';
    expect(statusOf(await rawExchange(harness.socketPath, request(100), 300))).toBe(200);
    expect(statusOf(await rawExchange(harness.socketPath, request(101), 300))).toBe(431);
    expect(upstream.requests).toHaveLength(1);
  });
});

describe('framing sent upstream is explicit', () => {
  it('refuses a body on a method that carries none', async () => {
    await startTwoWorkspaces();
    for (const method of ['GET', 'HEAD', 'DELETE', 'OPTIONS', 'TRACE']) {
      const withLength = `${method} /_workcell/anthropic/v1/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello`;
      const withChunks = `${method} http://good.example:${upstream.port}/ HTTP/1.1\r\nHost: good.example:${upstream.port}\r\nTransfer-Encoding: chunked\r\n\r\n${chunked('hello')}`;
      expect(statusOf(await rawExchange(harness.socketPath, withLength, 300)), method).toBe(400);
      expect(statusOf(await rawExchange(harness.socketPath, withChunks, 300)), method).toBe(400);
    }
    expect(upstream.requests).toEqual([]);
  });

  it('states Content-Length (0 when the client sent no body) or chunked, never both', async () => {
    await startTwoWorkspaces();
    const header = (i: number, name: string): string[] => {
      const raw = upstream.requests[i]?.rawHeaders ?? [];
      return raw.filter((_, j) => j % 2 === 1 && raw[j - 1]?.toLowerCase() === name);
    };
    await rawExchange(
      harness.socketPath,
      'POST /_workcell/anthropic/v1/messages HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      300,
    );
    await rawExchange(
      harness.socketPath,
      `POST /_workcell/anthropic/v1/messages HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n${chunked('{"a":1}')}`,
      300,
    );
    expect(upstream.requests).toHaveLength(2);
    expect(header(0, 'content-length')).toEqual(['0']);
    expect(header(0, 'transfer-encoding')).toEqual([]);
    expect(header(1, 'transfer-encoding')).toEqual(['chunked']);
    expect(header(1, 'content-length')).toEqual([]);
    expect(upstream.requests[1]?.body.toString()).toBe('{"a":1}');
  });
});

describe('upstream connections', () => {
  it('are never shared by two workspaces', async () => {
    await startTwoWorkspaces();
    const send = (socketPath: string, from: string): Promise<unknown> =>
      proxyRequest(socketPath, {
        method: 'POST',
        path: '/_workcell/anthropic/v1/messages',
        headers: { Host: 'x', 'X-From': from, 'Content-Length': '2' },
        body: '{}',
      });
    for (let i = 0; i < 6; i += 1) {
      await send(harness.socketPath, 'attacker');
      await send(victim.socketPath, 'victim');
    }
    expect(seenOn).toHaveLength(12);
    const byPort = new Map<number, Set<string>>();
    for (const seen of seenOn) {
      const set = byPort.get(seen.port) ?? new Set<string>();
      set.add(seen.from);
      byPort.set(seen.port, set);
    }
    for (const [port, froms] of byPort) expect([...froms], `upstream port ${port}`).toHaveLength(1);
    // Keep-alive still works within one workspace: far fewer connections than requests.
    expect(byPort.size).toBeLessThanOrEqual(4);
  });

  it('are dropped when a listener is bound to another workspace', async () => {
    await startTwoWorkspaces();
    const send = (from: string): Promise<unknown> =>
      proxyRequest(harness.socketPath, {
        method: 'POST',
        path: '/_workcell/anthropic/v1/messages',
        headers: { Host: 'x', 'X-From': from, 'Content-Length': '2' },
        body: '{}',
      });
    await send('first');
    harness.listener.setIdentity({ workspaceId: 'ws-next', containerId: 'ctr-test' });
    await send('next');
    expect(seenOn).toHaveLength(2);
    expect(seenOn[0]?.port).not.toBe(seenOn[1]?.port);
  });
});
