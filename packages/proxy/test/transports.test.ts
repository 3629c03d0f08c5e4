import { statSync } from 'node:fs';
import { connect, createServer as createNetServer, type AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseCidrList, parseEgressPatterns, type EgressPolicy } from '../src/index.js';
import {
  proxyRequest,
  rawExchange,
  secretHits,
  startCanary,
  startProxy,
  startUpstream,
  statusOf,
  type Canary,
  type ProxyHarness,
  type Upstream,
} from './helpers.js';

/**
 * The egress transports over a real Unix socket: CONNECT tunnels and absolute-form HTTP to
 * allowed hosts, everything else refused before any connection is made. `good.example` resolves
 * to 127.0.0.2 (an allowed private range) where an upstream listens; every other name resolves to
 * 127.0.0.1, where the canary counts any connection that slips through.
 */
let canary: Canary;
let upstream: Upstream;
let harness: ProxyHarness;

function basePolicy(): EgressPolicy {
  return {
    allow: parseEgressPatterns(
      `good.example:${upstream.port}, allowed.example, allowed.example:${canary.port}`,
      'WORKCELL_EGRESS_ALLOW',
    ),
    deny: parseEgressPatterns('blocked.good.example', 'WORKCELL_EGRESS_DENY'),
    allowPrivate: parseCidrList('127.0.0.2/32', 'WORKCELL_EGRESS_ALLOW_PRIVATE'),
  };
}

beforeAll(async () => {
  canary = await startCanary();
  upstream = await startUpstream((req, res) => {
    if (req.url === '/redirect') {
      res.writeHead(302, { Location: `http://127.0.0.1:${canary.port}/` });
      res.end();
      return;
    }
    const hop = req.url?.startsWith('/page')
      ? { Connection: 'x-upstream-hop', 'X-Upstream-Hop': 'drop-me' }
      : {};
    res.writeHead(200, { 'Content-Type': 'text/plain', ...hop });
    res.end(`hello ${req.url ?? ''}`);
  }, '127.0.0.2');
});

afterAll(async () => {
  await canary.close();
  await upstream.close();
  expect(secretHits()).toEqual([]);
});

beforeEach(async () => {
  upstream.requests.length = 0;
  upstream.connections = 0;
  canary.connections = 0;
  harness = await startProxy({
    resolve: async (host) => (host === 'good.example' ? ['127.0.0.2'] : ['127.0.0.1']),
  });
  harness.policy.current = basePolicy();
});

afterEach(async () => {
  await harness.close();
});

describe('hostile destinations never reach the canary', () => {
  const hostile = (): string[] => {
    const p = canary.port;
    return [
      `127.0.0.1:${p}`,
      `localhost:${p}`,
      `[::1]:${p}`,
      `169.254.169.254:${p}`,
      `2852039166:${p}`,
      `0xa9.0xfe.0xa9.0xfe:${p}`,
      `[::ffff:169.254.169.254]:${p}`,
      `[::ffff:127.0.0.1]:${p}`,
      `0.0.0.0:${p}`,
      `0:${p}`,
      `127.1:${p}`,
      `10.0.0.1:${p}`,
      `192.168.1.1:${p}`,
      `100.64.0.1:${p}`,
      `172.17.0.1:${p}`,
      `allowed.example:${p}`, // allowed name and port, resolves to 127.0.0.1
      `ALLOWED.EXAMPLE.:${p}`,
      `good.example:${p}`, // allowed host, port not allowed
      `allowed.example@127.0.0.1:${p}`,
      `allowed.example.evil.test:${p}`,
      `[fe80::1%25lo]:${p}`,
      `127.0.0.1%2e:${p}`,
    ];
  };

  it('as CONNECT', async () => {
    for (const target of hostile()) {
      const reply = await rawExchange(
        harness.socketPath,
        `CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n`,
      );
      expect([400, 403], `${target}: ${reply.slice(0, 200)}`).toContain(statusOf(reply));
    }
    expect(canary.connections).toBe(0);
    const records = await harness.waitForAudit(hostile().length);
    expect(
      records.every(
        (r) =>
          r.decision === 'deny' && r.route === 'connect' && r.bytesOut === 0 && r.bytesIn === 0,
      ),
    ).toBe(true);
  });

  it('as absolute-form GET', async () => {
    for (const target of hostile()) {
      const reply = await rawExchange(
        harness.socketPath,
        `GET http://${target}/ HTTP/1.1\r\nHost: ${target}\r\n\r\n`,
      );
      expect([400, 403], `${target}: ${reply.slice(0, 200)}`).toContain(statusOf(reply));
    }
    expect(canary.connections).toBe(0);
    const records = await harness.waitForAudit(hostile().length);
    expect(records.every((r) => r.decision === 'deny')).toBe(true);
  });

  it('a CRLF inside the CONNECT target, and a Host header that differs from the target', async () => {
    const p = canary.port;
    const shapes = [
      `CONNECT allowed.example\r\n:${p} HTTP/1.1\r\nHost: allowed.example\r\n\r\n`,
      `CONNECT 127.0.0.1:${p}\r\n HTTP/1.1\r\n\r\n`,
      `CONNECT good.example:${upstream.port}\r\nHost: 127.0.0.1:${p} HTTP/1.1\r\n\r\n`,
      `CONNECT good.example:${upstream.port} HTTP/1.1\r\nHost: 127.0.0.1:${p}\r\n\r\n`,
      `GET http://good.example:${upstream.port}/ HTTP/1.1\r\nHost: 127.0.0.1:${p}\r\n\r\n`,
      `GET http://good.example:${upstream.port}/ HTTP/1.1\r\nHost: good.example\r\n\r\n`,
    ];
    for (const shape of shapes) {
      const reply = await rawExchange(harness.socketPath, shape);
      expect(statusOf(reply), JSON.stringify(shape)).toBe(400);
    }
    expect(canary.connections).toBe(0);
    expect(upstream.connections).toBe(0);
  });

  it('the canary does count a destination the policy allows (the check can fail)', async () => {
    harness.policy.current = { ...basePolicy(), allowPrivate: parseCidrList('127.0.0.1/32', 'P') };
    const reply = await rawExchange(
      harness.socketPath,
      `GET http://allowed.example:${canary.port}/ HTTP/1.1\r\nHost: allowed.example:${canary.port}\r\nConnection: close\r\n\r\n`,
    );
    expect(statusOf(reply)).toBe(200);
    expect(canary.connections).toBe(1);
    canary.connections = 0;
  });
});

describe('CONNECT tunnels', () => {
  it('relays bytes opaquely to exactly the checked address and records the tunnel', async () => {
    const target = `good.example:${upstream.port}`;
    const reply = await rawExchange(
      harness.socketPath,
      `CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\nGET /tunnelled HTTP/1.1\r\nHost: good.example\r\nConnection: close\r\n\r\n`,
    );
    expect(reply).toMatch(/^HTTP\/1\.1 200 Connection Established\r\n\r\nHTTP\/1\.1 200 OK/);
    expect(reply).toContain('hello /tunnelled');
    const [record] = await harness.waitForAudit(1);
    expect(record).toMatchObject({
      workspaceId: 'ws-test',
      containerId: 'ctr-test',
      method: 'CONNECT',
      host: 'good.example',
      port: upstream.port,
      address: '127.0.0.2',
      decision: 'allow',
      reason: 'allowed',
      rule: `good.example:${upstream.port}`,
      status: 200,
      credential: null,
      route: 'connect',
    });
    expect(record?.bytesOut).toBeGreaterThan(40);
    expect(record?.bytesIn).toBeGreaterThan(40);
  });

  it('delivers every byte when the upstream closes while the container is still reading', async () => {
    const size = 8 * 1024 * 1024;
    const source = createNetServer((socket) => {
      socket.on('error', () => undefined);
      socket.end(Buffer.alloc(size, 'z'));
    });
    await new Promise<void>((r) => source.listen(0, '127.0.0.2', r));
    const port = (source.address() as AddressInfo).port;
    harness.policy.current = {
      ...basePolicy(),
      allow: parseEgressPatterns(`good.example:${port}`, 'A'),
    };
    try {
      const received = await new Promise<number>((resolve) => {
        const socket = connect(harness.socketPath);
        let bytes = 0;
        socket.on('error', () => undefined);
        socket.write(`CONNECT good.example:${port} HTTP/1.1\r\nHost: good.example:${port}\r\n\r\n`);
        // A slow reader: the upstream is gone long before the container has read the stream, and
        // the proxy still holds bytes for the container when the upstream's end arrives.
        socket.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          socket.pause();
          setTimeout(() => socket.resume(), 2);
        });
        socket.on('close', () => resolve(bytes));
      });
      expect(received).toBe(size + 'HTTP/1.1 200 Connection Established\r\n\r\n'.length);
    } finally {
      source.close();
    }
  });

  it('a CONNECT without a port is refused', async () => {
    expect(
      statusOf(await rawExchange(harness.socketPath, 'CONNECT good.example HTTP/1.1\r\n\r\n')),
    ).toBe(400);
  });
});

describe('absolute-form HTTP', () => {
  it('forwards in origin-form with the Host kept and hop-by-hop and Proxy-* headers removed', async () => {
    const reply = await proxyRequest(harness.socketPath, {
      path: `http://good.example:${upstream.port}/page?q=1`,
      headers: [
        'Host',
        `good.example:${upstream.port}`,
        'Proxy-Authorization',
        'Basic c2VjcmV0',
        'Proxy-Connection',
        'keep-alive',
        'Connection',
        'keep-alive, X-Hop',
        'X-Hop',
        'per-connection',
        'Keep-Alive',
        'timeout=5',
        'TE',
        'trailers',
        'X-End-To-End',
        'kept',
      ],
    });
    expect(reply.status).toBe(200);
    expect(reply.body).toBe('hello /page?q=1');
    expect(reply.headers['x-upstream-hop']).toBeUndefined();
    const [seen] = upstream.requests;
    expect(seen?.url).toBe('/page?q=1');
    const names = (seen?.rawHeaders ?? [])
      .filter((_, i) => i % 2 === 0)
      .map((n) => n.toLowerCase());
    expect(names).toContain('x-end-to-end');
    for (const gone of ['proxy-authorization', 'proxy-connection', 'x-hop', 'keep-alive', 'te'])
      expect(names).not.toContain(gone);
    expect(seen?.rawHeaders[names.indexOf('host') * 2 + 1]).toBe(`good.example:${upstream.port}`);
  });

  it('an HTTP/1.0 request without Host gets the target authority as Host', async () => {
    const reply = await rawExchange(
      harness.socketPath,
      `GET http://good.example:${upstream.port}/old HTTP/1.0\r\n\r\n`,
    );
    expect(statusOf(reply)).toBe(200);
    const seen = upstream.requests[0]?.rawHeaders ?? [];
    expect(seen[seen.findIndex((h) => h.toLowerCase() === 'host') + 1]).toBe(
      `good.example:${upstream.port}`,
    );
  });

  it('passes a redirect back instead of following it', async () => {
    const reply = await proxyRequest(harness.socketPath, {
      path: `http://good.example:${upstream.port}/redirect`,
      headers: { Host: `good.example:${upstream.port}` },
    });
    expect(reply.status).toBe(302);
    expect(reply.headers.location).toBe(`http://127.0.0.1:${canary.port}/`);
    expect(canary.connections).toBe(0);
  });

  it('checks a second request on a kept-alive socket again, against the policy of that moment', async () => {
    const target = `good.example:${upstream.port}`;
    const first = `GET http://${target}/one HTTP/1.1\r\nHost: ${target}\r\n\r\n`;
    const denied = `GET http://127.0.0.1:${canary.port}/ HTTP/1.1\r\nHost: 127.0.0.1:${canary.port}\r\n\r\n`;
    const both = await rawExchange(harness.socketPath, first + denied);
    expect(both).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(both).toContain('hello /one');
    expect(both).toMatch(/HTTP\/1\.1 403 Forbidden[\s\S]*ip-literal-not-listed/);
    expect(canary.connections).toBe(0);

    // One connection: a request, then a policy change, then the same request again.
    const socket = connect(harness.socketPath);
    const responses: string[] = [];
    socket.on('data', (chunk: Buffer) => responses.push(chunk.toString('latin1')));
    const waitFor = async (pattern: RegExp): Promise<void> => {
      const deadline = Date.now() + 5_000;
      while (!pattern.test(responses.join(''))) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    socket.write(first);
    await waitFor(/hello \/one/);
    harness.policy.current = { ...basePolicy(), allow: [] };
    socket.write(first);
    await waitFor(/403 Forbidden/);
    socket.destroy();
    expect(responses.join('')).toContain('not-in-allowlist');
  });

  it('closes its connection to the upstream when the exchange ends, even if the upstream keeps it open', async () => {
    const closed = new Promise<void>((resolve) => {
      const lingering = createNetServer((socket) => {
        socket.resume();
        socket.on('error', () => undefined);
        socket.on('close', () => {
          lingering.close();
          resolve();
        });
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok');
      });
      lingering.listen(0, '127.0.0.2', () => {
        const port = (lingering.address() as AddressInfo).port;
        harness.policy.current = {
          ...basePolicy(),
          allow: parseEgressPatterns(`good.example:${port}`, 'A'),
        };
        void proxyRequest(harness.socketPath, {
          path: `http://good.example:${port}/`,
          headers: { Host: `good.example:${port}` },
        });
      });
    });
    await closed;
  });

  it('refuses https absolute-form (HTTPS goes through CONNECT) and asterisk-form', async () => {
    const target = `good.example:${upstream.port}`;
    expect(
      statusOf(
        await rawExchange(
          harness.socketPath,
          `GET https://${target}/ HTTP/1.1\r\nHost: ${target}\r\n\r\n`,
        ),
      ),
    ).toBe(400);
    expect(
      statusOf(
        await rawExchange(harness.socketPath, `OPTIONS * HTTP/1.1\r\nHost: ${target}\r\n\r\n`),
      ),
    ).toBe(400);
    expect(upstream.connections).toBe(0);
  });
});

describe('origin-form and denials', () => {
  it('origin-form requests other than the /_workcell routes answer 400', async () => {
    for (const path of [
      '/',
      '/v1/messages',
      '/_workcell',
      '/_workcell/anthropicx/v1/messages',
      '/_workcell/other',
    ]) {
      const reply = await proxyRequest(harness.socketPath, { path });
      expect(reply.status, path).toBe(400);
    }
  });

  it('a denial is 403 with a machine-readable reason and a body naming the rule, never the resolved address', async () => {
    const reply = await proxyRequest(harness.socketPath, {
      path: `http://allowed.example:${canary.port}/`,
      headers: { Host: `allowed.example:${canary.port}` },
    });
    expect(reply.status).toBe(403);
    expect(reply.headers['x-workcell-egress-denied']).toBe('private-address');
    const body = JSON.parse(reply.body) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('egress_denied');
    expect(body.error.message).toContain(`allowed.example:${canary.port}`);
    expect(body.error.message).toContain('loopback');
    expect(reply.body).not.toContain('127.0.0.1');
    const [record] = await harness.waitForAudit(1);
    expect(record).toMatchObject({
      decision: 'deny',
      reason: 'private-address',
      address: '127.0.0.1',
      status: 403,
      route: 'http',
    });

    const ruled = await proxyRequest(harness.socketPath, {
      path: 'http://blocked.good.example/',
      headers: { Host: 'blocked.good.example' },
    });
    expect(ruled.headers['x-workcell-egress-denied']).toBe('denied-by-rule');
    expect((JSON.parse(ruled.body) as { error: { message: string } }).error.message).toContain(
      'deny rule "blocked.good.example"',
    );
  });

  it('a name that does not resolve fails closed', async () => {
    harness.policy.current = { ...basePolicy(), allow: parseEgressPatterns('gone.example', 'A') };
    await harness.close();
    harness = await startProxy({ resolve: async () => [] });
    harness.policy.current = { ...basePolicy(), allow: parseEgressPatterns('gone.example', 'A') };
    const reply = await proxyRequest(harness.socketPath, {
      path: 'http://gone.example/',
      headers: { Host: 'gone.example' },
    });
    expect(reply.status).toBe(403);
    expect(reply.headers['x-workcell-egress-denied']).toBe('resolve-failed');
  });
});

describe('the listener', () => {
  it('is connectable by another user, takes a new identity, and removes its socket on close', async () => {
    expect(statSync(harness.socketPath).mode & 0o777).toBe(0o666);
    harness.listener.setIdentity({ workspaceId: 'ws-other', containerId: 'ctr-other' });
    await proxyRequest(harness.socketPath, { path: '/nowhere' });
    const [record] = await harness.waitForAudit(1);
    expect(record).toMatchObject({
      workspaceId: 'ws-other',
      containerId: 'ctr-other',
      route: 'other',
      status: 400,
    });
    await harness.listener.close();
    expect(() => statSync(harness.socketPath)).toThrow();
  });
});
