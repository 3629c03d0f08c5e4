import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCidrList, parseEgressPatterns } from '../src/index.js';
import {
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
 * Request shapes two HTTP parsers can read differently answer 400 and reach nothing: raw bytes
 * over the socket, aimed at the Anthropic route and at an allowed absolute-form host, each with
 * a smuggled request to the canary hidden behind it.
 */
let canary: Canary;
let upstream: Upstream;
let harness: ProxyHarness;

beforeAll(async () => {
  canary = await startCanary();
  upstream = await startUpstream((_req, res) => res.end('upstream'), '127.0.0.2');
  harness = await startProxy({
    anthropic: { upstream: upstream.url, apiKey: () => SECRETS.anthropicKey },
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
  await canary.close();
  await upstream.close();
  expect(secretHits()).toEqual([]);
});

describe('request smuggling shapes answer 400', () => {
  const smuggled = (): string =>
    `GET http://127.0.0.1:${canary.port}/ HTTP/1.1\r\nHost: 127.0.0.1:${canary.port}\r\n\r\n`;
  const targets = (): Array<[string, string]> => [
    [
      'anthropic route',
      'POST /_workcell/anthropic/v1/messages HTTP/1.1\r\nHost: 127.0.0.1:3128\r\n',
    ],
    [
      'absolute-form',
      `POST http://good.example:${upstream.port}/ HTTP/1.1\r\nHost: good.example:${upstream.port}\r\n`,
    ],
  ];
  const shapes = (): Array<[string, string]> => {
    const s = smuggled();
    const len = Buffer.byteLength(`0\r\n\r\n${s}`);
    return [
      ['TE + CL', `Transfer-Encoding: chunked\r\nContent-Length: ${len}\r\n\r\n0\r\n\r\n${s}`],
      ['CL + TE', `Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${s}`],
      ['TE identity + CL', `Transfer-Encoding: identity\r\nContent-Length: 5\r\n\r\nhello${s}`],
      ['TE not chunked', `Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n${s}`],
      ['TE chunked then another coding', `Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n${s}`],
      [
        'two TE headers',
        `Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${s}`,
      ],
      ['obs-fold', `X-Folded: a\r\n b\r\nContent-Length: 0\r\n\r\n${s}`],
      [
        'obs-fold with a tab',
        `X-Folded: a\r\n\tTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n${s}`,
      ],
      ['space before colon (Content-Length)', `Content-Length : 5\r\n\r\nhello${s}`],
      [
        'space before colon (Transfer-Encoding)',
        `Transfer-Encoding : chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n${s}`,
      ],
      ['tab in a header name', `Transfer-Encoding\t: chunked\r\n\r\n0\r\n\r\n${s}`],
      [
        'two different Content-Length',
        `Content-Length: 5\r\nContent-Length: ${len}\r\n\r\nhello${s}`,
      ],
      ['two equal Content-Length', `Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello${s}`],
      ['a second Host header', `Host: 127.0.0.1:${canary.port}\r\nContent-Length: 0\r\n\r\n`],
      ['a signed Content-Length', `Content-Length: +5\r\n\r\nhello${s}`],
      ['a NUL in a header value', `X-Nul: a\0b\r\nContent-Length: 0\r\n\r\n${s}`],
      ['a bare CR in a header value', `X-Cr: a\rb\r\nContent-Length: 0\r\n\r\n${s}`],
    ];
  };

  for (const where of ['anthropic route', 'absolute-form']) {
    it(`on the ${where}`, async () => {
      const start = targets().find(([name]) => name === where)?.[1] ?? '';
      for (const [name, rest] of shapes()) {
        const reply = await rawExchange(harness.socketPath, start + rest, 300);
        expect(statusOf(reply), `${name}: ${JSON.stringify(reply.slice(0, 120))}`).toBe(400);
        expect(reply.match(/HTTP\/1\.1 /g)?.length, name).toBe(1);
      }
      expect(upstream.requests).toEqual([]);
      expect(canary.connections).toBe(0);
    });
  }

  it('bare LF line endings, HTTP/0.9, a CONNECT without a version and HTTP/1.1 without Host', async () => {
    const shapes = [
      `GET http://good.example:${upstream.port}/ HTTP/1.1\r\n\r\n`,
      `POST /_workcell/anthropic/v1/messages HTTP/1.1\r\nContent-Length: 0\r\n\r\n`,
      `GET http://good.example:${upstream.port}/ HTTP/1.1\nHost: good.example:${upstream.port}\n\n`,
      `GET /_workcell/anthropic/v1/messages\r\n\r\n`,
      `CONNECT good.example:${upstream.port}\r\n\r\n`,
      `GET http://good.example:${upstream.port}/ HTTP/2.0\r\nHost: good.example:${upstream.port}\r\n\r\n`,
    ];
    for (const shape of shapes) {
      const reply = await rawExchange(harness.socketPath, shape, 300);
      expect(statusOf(reply), JSON.stringify(shape)).toBe(400);
    }
    expect(upstream.connections).toBe(0);
  });

  it('every refusal is recorded as a denial', async () => {
    const before = harness.audit.length;
    await rawExchange(
      harness.socketPath,
      `GET /x HTTP/1.1\r\nHost: a\r\nX-Folded: a\r\n b\r\n\r\n`,
      300,
    );
    const records = await harness.waitForAudit(before + 1);
    expect(records.at(-1)).toMatchObject({
      decision: 'deny',
      reason: 'malformed-request',
      status: 400,
      method: 'INVALID',
    });
  });

  it('a well-formed chunked request still goes through (the checks are not blanket refusals)', async () => {
    const body = '{"model":"m","messages":[]}';
    const chunked = `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;
    const reply = await rawExchange(
      harness.socketPath,
      `POST /_workcell/anthropic/v1/messages HTTP/1.1\r\nHost: 127.0.0.1:3128\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${chunked}`,
    );
    expect(statusOf(reply)).toBe(200);
    expect(upstream.requests.at(-1)?.body.toString()).toBe(body);
    upstream.requests.length = 0;
  });
});
