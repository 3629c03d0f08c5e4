import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCidrList, parseEgressPatterns, type AuditRecord } from '../src/index.js';
import {
  captured,
  proxyRequest,
  rawExchange,
  secretHits,
  SECRETS,
  startProxy,
  startUpstream,
  type ProxyHarness,
  type Upstream,
} from './helpers.js';

const FIELDS: Array<keyof AuditRecord> = [
  'time',
  'workspaceId',
  'containerId',
  'method',
  'host',
  'port',
  'address',
  'decision',
  'reason',
  'rule',
  'status',
  'bytesIn',
  'bytesOut',
  'durationMs',
  'credential',
  'secrets',
  'suspected',
  'route',
];

let upstream: Upstream;
let harness: ProxyHarness;

beforeAll(async () => {
  upstream = await startUpstream((_req, res) => res.end('ok'), '127.0.0.2');
  harness = await startProxy({
    anthropic: { upstream: upstream.url, apiKey: () => SECRETS.anthropicKey },
    bedrock: {
      upstream: upstream.url,
      region: 'eu-west-1',
      credentials: async () => ({
        accessKeyId: SECRETS.accessKeyId,
        secretAccessKey: SECRETS.secretAccessKey,
        sessionToken: SECRETS.sessionToken,
      }),
      maxBodyBytes: 1024,
    },
    resolve: async () => ['127.0.0.2'],
    policy: {
      allow: parseEgressPatterns(`good.example:${upstream.port}`, 'WORKCELL_EGRESS_ALLOW'),
      deny: [],
      allowPrivate: parseCidrList('127.0.0.2/32', 'WORKCELL_EGRESS_ALLOW_PRIVATE'),
    },
  });
});

afterAll(async () => {
  await harness.close();
  await upstream.close();
});

describe('audit records', () => {
  it('one record per request or tunnel, with every field, naming the credential but never its value', async () => {
    const target = `good.example:${upstream.port}`;
    await proxyRequest(harness.socketPath, {
      method: 'POST',
      path: '/_workcell/anthropic/v1/messages',
      body: '{"a":1}',
    });
    await proxyRequest(harness.socketPath, {
      method: 'POST',
      path: '/_workcell/bedrock/model/m/invoke',
      body: '{"b":2}',
    });
    await proxyRequest(harness.socketPath, {
      method: 'POST',
      path: '/_workcell/bedrock/model/m/invoke',
      body: 'x'.repeat(2000),
    });
    await proxyRequest(harness.socketPath, {
      path: `http://${target}/`,
      headers: { Host: target },
    });
    await proxyRequest(harness.socketPath, {
      path: 'http://evil.test/',
      headers: { Host: 'evil.test' },
    });
    await rawExchange(
      harness.socketPath,
      `CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\nGET / HTTP/1.1\r\nHost: good.example\r\nConnection: close\r\n\r\n`,
    );
    await rawExchange(harness.socketPath, 'GET / HTTP/1.1\r\nHost : x\r\n\r\n', 200);
    const records = await harness.waitForAudit(7);
    await new Promise((r) => setTimeout(r, 100));
    expect(records).toHaveLength(7);
    for (const record of records) {
      expect(Object.keys(record).sort()).toEqual([...FIELDS].sort());
      expect(Number.isNaN(Date.parse(record.time))).toBe(false);
      expect(record.durationMs).toBeGreaterThanOrEqual(0);
      expect(record).toMatchObject({ workspaceId: 'ws-test', containerId: 'ctr-test' });
    }
    const summary = records.map((r) => [r.route, r.decision, r.reason, r.status, r.credential]);
    expect(summary).toEqual([
      ['anthropic', 'allow', 'model-route', 200, 'anthropic-api-key'],
      ['bedrock', 'allow', 'model-route', 200, 'aws-sigv4'],
      ['bedrock', 'deny', 'body-too-large', 413, null],
      ['http', 'allow', 'allowed', 200, null],
      ['http', 'deny', 'not-in-allowlist', 403, null],
      ['connect', 'allow', 'allowed', 200, null],
      ['other', 'deny', 'malformed-request', 400, null],
    ]);
    expect(records[3]).toMatchObject({
      host: 'good.example',
      port: upstream.port,
      address: '127.0.0.2',
      rule: target,
      bytesIn: 2,
    });
    expect(records[5]?.bytesOut).toBeGreaterThan(0);
  });

  it('no key, secret or session token in any log line or audit record', async () => {
    expect(captured.audit.length).toBeGreaterThan(0);
    expect(captured.logs.length).toBeGreaterThan(0);
    // The needles are real: the upstream did receive the key and the token.
    const upstreamSaw = upstream.requests.flatMap((r) => r.rawHeaders).join('\n');
    expect(upstreamSaw).toContain(SECRETS.anthropicKey);
    expect(upstreamSaw).toContain(SECRETS.sessionToken);
    expect(secretHits()).toEqual([]);
  });
});
