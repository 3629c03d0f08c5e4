import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseAnthropicOperations } from '../src/index.js';
import {
  proxyRequest,
  secretHits,
  SECRETS,
  startProxy,
  startUpstream,
  type ProxyHarness,
  type Upstream,
} from './helpers.js';

/**
 * The Anthropic route carries the host's key, shared by every workspace: it forwards only what
 * the agent needs, so no workspace can read, list or delete the organisation's files, batches or
 * settings with it.
 */
let upstream: Upstream;
let harness: ProxyHarness;

beforeAll(async () => {
  upstream = await startUpstream((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end('{}');
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

const send = (method: string, path: string): ReturnType<typeof proxyRequest> =>
  proxyRequest(harness.socketPath, {
    method,
    path: `/_workcell/anthropic${path}`,
    headers: { Host: 'x' },
    ...(['GET', 'HEAD', 'DELETE', 'OPTIONS', 'TRACE'].includes(method) ? {} : { body: '{}' }),
  });

describe('the Anthropic route forwards only the operations the agent needs', () => {
  it('answers 404 with an audit record for the organisation API, reaching nothing', async () => {
    harness = await startProxy({
      anthropic: { upstream: upstream.url, apiKey: () => SECRETS.anthropicKey },
    });
    const attempts: Array<[string, string]> = [
      ['GET', '/v1/files'],
      ['GET', '/v1/files/file_123/content'],
      ['DELETE', '/v1/files/file_123'],
      ['POST', '/v1/files'],
      ['GET', '/v1/messages/batches'],
      ['POST', '/v1/messages/batches'],
      ['DELETE', '/v1/messages/batches/msgbatch_1'],
      ['GET', '/v1/organizations/me'],
      ['GET', '/v1/organizations/api_keys'],
      ['TRACE', '/v1/messages'],
      ['DELETE', '/v1/messages'],
      ['GET', '/v1/messages'],
      ['PUT', '/v1/messages'],
      ['POST', '/v1/messages/'],
      ['POST', '/v1/messages/count_tokens/x'],
      ['POST', '/v1/complete'],
      ['GET', '/v1/models'],
    ];
    for (const [method, path] of attempts) {
      const reply = await send(method, path);
      expect(reply.status, `${method} ${path}`).toBe(404);
      if (method !== 'HEAD') expect(JSON.parse(reply.body).error.code).toBe('not_found');
    }
    expect(upstream.requests).toEqual([]);
    const records = await harness.waitForAudit(attempts.length);
    for (const record of records)
      expect(record).toMatchObject({
        route: 'anthropic',
        decision: 'deny',
        reason: 'unknown-route',
        credential: null,
        status: 404,
      });
  });

  it('forwards POST /v1/messages (any query) and POST /v1/messages/count_tokens', async () => {
    harness = await startProxy({
      anthropic: { upstream: upstream.url, apiKey: () => SECRETS.anthropicKey },
    });
    expect((await send('POST', '/v1/messages?beta=true')).status).toBe(200);
    expect((await send('POST', '/v1/messages/count_tokens?beta=true')).status).toBe(200);
    expect(upstream.requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      'POST /v1/messages?beta=true',
      'POST /v1/messages/count_tokens?beta=true',
    ]);
  });

  it('forwards an operation the operator adds, with its method only', async () => {
    harness = await startProxy({
      anthropic: {
        upstream: upstream.url,
        apiKey: () => SECRETS.anthropicKey,
        operations: parseAnthropicOperations(['GET /v1/models'], 'WORKCELL_ANTHROPIC_OPERATIONS'),
      },
    });
    expect((await send('GET', '/v1/models')).status).toBe(200);
    expect((await send('POST', '/v1/models')).status).toBe(404);
    expect((await send('GET', '/v1/files')).status).toBe(404);
    expect(upstream.requests.map((r) => `${r.method} ${r.url}`)).toEqual(['GET /v1/models']);
  });

  it('refuses malformed operator operations, naming the variable', () => {
    for (const bad of [
      '/v1/models',
      'GET v1/models',
      'FETCH /v1/models',
      'GET /v1/*',
      'GET /v1/a?b=c',
    ])
      expect(() => parseAnthropicOperations([bad], 'WORKCELL_ANTHROPIC_OPERATIONS'), bad).toThrow(
        /WORKCELL_ANTHROPIC_OPERATIONS: .* is not an operation/,
      );
  });
});
