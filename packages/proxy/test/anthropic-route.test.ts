import { request } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  proxyRequest,
  secretHits,
  SECRETS,
  startProxy,
  startUpstream,
  type ProxyHarness,
  type Upstream,
} from './helpers.js';

/** Values of a header (any case) in a raw header list. */
function headerValues(rawHeaders: string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2)
    if (rawHeaders[i]?.toLowerCase() === name) out.push(rawHeaders[i + 1] ?? '');
  return out;
}

let upstream: Upstream;
let harness: ProxyHarness;
/** Released by a test to let the streaming upstream send its second event. */
let releaseSecondEvent: () => void = () => undefined;

beforeAll(async () => {
  upstream = await startUpstream((req, res) => {
    if (req.url?.endsWith('?stream=1')) {
      res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
      res.write('event: message_start\ndata: {"type":"message_start"}\n\n');
      new Promise<void>((resolve) => {
        releaseSecondEvent = resolve;
      })
        .then(() => {
          res.write('event: message_stop\ndata: {"type":"message_stop"}\n\n');
          res.end();
        })
        .catch(() => undefined);
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ path: req.url }));
  });
});

afterAll(async () => {
  await upstream.close();
  expect(secretHits()).toEqual([]);
});

afterEach(async () => {
  await harness.close();
  upstream.requests.length = 0;
});

describe('the Anthropic route', () => {
  it("removes every client auth header and adds exactly the host's key", async () => {
    harness = await startProxy({
      anthropic: { upstream: upstream.url, apiKey: () => SECRETS.anthropicKey },
    });
    const body = JSON.stringify({ model: 'claude', messages: [{ role: 'user', content: 'hi' }] });
    const reply = await proxyRequest(harness.socketPath, {
      method: 'POST',
      path: '/_workcell/anthropic/v1/messages?beta=true',
      headers: [
        'Host',
        '127.0.0.1:3128',
        'x-api-key',
        'client-key-lower',
        'X-Api-Key',
        'client-key-mixed',
        'X-API-KEY',
        'client-key-upper',
        'Authorization',
        'Bearer client-token',
        'authorization',
        'Basic Y2xpZW50',
        'anthropic-version',
        '2023-06-01',
        'Content-Type',
        'application/json',
        'Content-Length',
        String(Buffer.byteLength(body)),
      ],
      body,
    });
    expect(reply.status).toBe(200);
    const [seen] = upstream.requests;
    expect(seen?.url).toBe('/v1/messages?beta=true');
    expect(headerValues(seen?.rawHeaders ?? [], 'x-api-key')).toEqual([SECRETS.anthropicKey]);
    expect(headerValues(seen?.rawHeaders ?? [], 'authorization')).toEqual([]);
    expect(headerValues(seen?.rawHeaders ?? [], 'anthropic-version')).toEqual(['2023-06-01']);
    expect(headerValues(seen?.rawHeaders ?? [], 'host')).toEqual([upstream.url.host]);
    expect(seen?.body.toString()).toBe(body);
    const [record] = await harness.waitForAudit(1);
    expect(record).toMatchObject({
      method: 'POST',
      route: 'anthropic',
      decision: 'allow',
      credential: 'anthropic-api-key',
      host: '127.0.0.1',
      port: upstream.port,
      address: '127.0.0.1',
      status: 200,
      bytesOut: Buffer.byteLength(body),
    });
    expect(record?.bytesIn).toBe(Buffer.byteLength(reply.body));
  });

  it('streams the response as it arrives', async () => {
    harness = await startProxy({
      anthropic: { upstream: upstream.url, apiKey: () => SECRETS.anthropicKey },
    });
    const events: string[] = [];
    const done = new Promise<{ contentType: string | undefined }>((resolve, reject) => {
      const req = request(
        {
          socketPath: harness.socketPath,
          method: 'POST',
          path: '/_workcell/anthropic/v1/messages?stream=1',
          agent: false,
          headers: { Host: 'x' },
        },
        (res) => {
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            events.push(chunk);
            // The upstream holds its second event until the first has reached the client.
            if (events.length === 1) releaseSecondEvent();
          });
          res.on('end', () => resolve({ contentType: res.headers['content-type'] }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end('{}');
    });
    const { contentType } = await done;
    expect(contentType).toBe('text/event-stream');
    expect(events[0]).toContain('message_start');
    expect(events.join('')).toContain('message_stop');
  });

  it('maps onto an upstream base path and refuses dot segments', async () => {
    harness = await startProxy({
      anthropic: {
        upstream: new URL(`${upstream.url.origin}/base/`),
        apiKey: () => SECRETS.anthropicKey,
      },
    });
    const ok = await proxyRequest(harness.socketPath, {
      method: 'POST',
      path: '/_workcell/anthropic/v1/messages',
      body: '{}',
    });
    expect(JSON.parse(ok.body)).toEqual({ path: '/base/v1/messages' });
    for (const path of [
      '/_workcell/anthropic/../admin',
      '/_workcell/anthropic/v1/%2e%2e/admin',
      '/_workcell/anthropic/v1/a%2fb',
    ]) {
      expect((await proxyRequest(harness.socketPath, { path })).status, path).toBe(400);
    }
    expect(upstream.requests).toHaveLength(1);
  });

  it('answers 401 without a host key (an SDK does not retry it) and 503 when the upstream is down, reaching nothing', async () => {
    harness = await startProxy({ anthropic: { upstream: upstream.url, apiKey: () => undefined } });
    const noKey = await proxyRequest(harness.socketPath, {
      method: 'POST',
      path: '/_workcell/anthropic/v1/messages',
      body: '{}',
    });
    expect(noKey.status).toBe(401);
    expect(JSON.parse(noKey.body).error.code).toBe('unauthorized');
    expect(upstream.requests).toEqual([]);
    await harness.close();

    harness = await startProxy({
      anthropic: { upstream: new URL('http://127.0.0.1:1'), apiKey: () => SECRETS.anthropicKey },
    });
    const down = await proxyRequest(harness.socketPath, {
      method: 'POST',
      path: '/_workcell/anthropic/v1/messages',
      body: '{}',
    });
    expect(down.status).toBe(503);
    expect(JSON.parse(down.body)).toEqual({
      error: { code: 'dependency_unavailable', message: 'the upstream did not answer' },
    });
  });

  it('answers 404 when the host has no Anthropic route', async () => {
    harness = await startProxy({});
    expect(
      (await proxyRequest(harness.socketPath, { path: '/_workcell/anthropic/v1/messages' })).status,
    ).toBe(404);
  });
});
