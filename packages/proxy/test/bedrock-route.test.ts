import { request } from 'node:http';
import { EventStreamCodec } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AwsCredentials } from '../src/index.js';
import {
  proxyRequest,
  secretHits,
  SECRETS,
  startProxy,
  startUpstream,
  type ProxyHarness,
  type Upstream,
} from './helpers.js';
import { verifySigV4, type Verdict } from './sigv4-verifier.js';

const REGION = 'us-west-2';
const LONG_TERM: AwsCredentials = {
  accessKeyId: SECRETS.accessKeyId,
  secretAccessKey: SECRETS.secretAccessKey,
};
const TEMPORARY: AwsCredentials = { ...LONG_TERM, sessionToken: SECRETS.sessionToken };
const MODEL = 'anthropic.claude-3-5-sonnet-20240620-v1:0';
const PROFILE_ARN =
  'arn:aws:bedrock:us-west-2:123456789012:inference-profile/us.anthropic.claude-3-5-sonnet-20241022-v2:0';

const codec = new EventStreamCodec(toUtf8, fromUtf8);

/** One Bedrock stream frame carrying one Anthropic stream event, as Bedrock sends it. */
function frame(event: object): Uint8Array {
  return codec.encode({
    headers: {
      ':message-type': { type: 'string', value: 'event' },
      ':event-type': { type: 'string', value: 'chunk' },
      ':content-type': { type: 'string', value: 'application/json' },
    },
    body: fromUtf8(
      JSON.stringify({ bytes: Buffer.from(JSON.stringify(event)).toString('base64') }),
    ),
  });
}

const FRAMES = [
  frame({ type: 'message_start' }),
  frame({ type: 'content_block_delta', delta: { text: 'hi' } }),
  frame({ type: 'message_stop' }),
];

/**
 * A Bedrock runtime stand-in: checks every signature with aws4 (the expected credentials are
 * `expected`), answers 403 on a bad one, and streams event-stream frames on
 * invoke-with-response-stream, holding each frame until the client has the previous one.
 */
let upstream: Upstream;
let expected: AwsCredentials = TEMPORARY;
const verdicts: Verdict[] = [];
let nextFrame: () => void = () => undefined;

beforeAll(async () => {
  upstream = await startUpstream((req, res) => {
    const seen = upstream.requests.at(-1);
    const verdict = verifySigV4(
      {
        method: req.method ?? '',
        url: req.url ?? '',
        rawHeaders: req.rawHeaders,
        body: seen?.body ?? Buffer.alloc(0),
      },
      { ...expected, region: REGION, service: 'bedrock' },
    );
    verdicts.push(verdict);
    if (!verdict.valid) {
      res.writeHead(403, {
        'Content-Type': 'application/json',
        'x-amzn-ErrorType': 'InvalidSignatureException',
      });
      res.end(JSON.stringify({ message: verdict.reason }));
      return;
    }
    if (req.url?.endsWith('/invoke-with-response-stream')) {
      res.writeHead(200, {
        'Content-Type': 'application/vnd.amazon.eventstream',
        'x-amzn-RequestId': 'req-1',
      });
      let sent = 0;
      const sendNext = (): void => {
        const f = FRAMES[sent];
        sent += 1;
        if (!f) {
          res.end();
          return;
        }
        res.write(f);
      };
      nextFrame = sendNext;
      sendNext();
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ path: req.url, content: [{ type: 'text', text: 'ok' }] }));
  });
});

afterAll(async () => {
  await upstream.close();
  expect(secretHits()).toEqual([]);
});

let harness: ProxyHarness;

afterEach(async () => {
  await harness.close();
  upstream.requests.length = 0;
  verdicts.length = 0;
  expected = TEMPORARY;
});

async function bedrockProxy(
  credentials: AwsCredentials | (() => Promise<AwsCredentials>),
  maxBodyBytes = 64 * 1024,
): Promise<ProxyHarness> {
  const provider = typeof credentials === 'function' ? credentials : async () => credentials;
  return startProxy({
    bedrock: { upstream: upstream.url, region: REGION, credentials: provider, maxBodyBytes },
  });
}

const invokeBody = JSON.stringify({
  anthropic_version: 'bedrock-2023-05-31',
  max_tokens: 16,
  messages: [{ role: 'user', content: 'hi' }],
});

describe('the Bedrock route', () => {
  it('signs a model id with ":" so an independent verifier accepts it, with temporary credentials', async () => {
    harness = await bedrockProxy(TEMPORARY);
    const reply = await proxyRequest(harness.socketPath, {
      method: 'POST',
      path: `/_workcell/bedrock/model/${encodeURIComponent(MODEL)}/invoke`,
      headers: {
        Host: '127.0.0.1:3128',
        'Content-Type': 'application/json',
        Accept: 'application/json',
      },
      body: invokeBody,
    });
    expect(reply.status, reply.body).toBe(200);
    expect(verdicts).toEqual([expect.objectContaining({ valid: true })]);
    expect(verdicts[0]?.signedHeaders).toEqual(
      expect.arrayContaining([
        'host',
        'x-amz-date',
        'x-amz-security-token',
        'content-type',
        'content-length',
      ]),
    );
    const [seen] = upstream.requests;
    expect(seen?.url).toBe('/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/invoke');
    expect(seen?.body.toString()).toBe(invokeBody);
    const [record] = await harness.waitForAudit(1);
    expect(record).toMatchObject({
      route: 'bedrock',
      credential: 'aws-sigv4',
      decision: 'allow',
      status: 200,
      bytesOut: Buffer.byteLength(invokeBody),
    });
  });

  it('signs an inference-profile ARN and long-term credentials (no token header)', async () => {
    expected = LONG_TERM;
    harness = await bedrockProxy(LONG_TERM);
    const reply = await proxyRequest(harness.socketPath, {
      method: 'POST',
      path: `/_workcell/bedrock/model/${encodeURIComponent(PROFILE_ARN)}/invoke`,
      headers: { 'Content-Type': 'application/json' },
      body: invokeBody,
    });
    expect(reply.status, reply.body).toBe(200);
    expect(verdicts[0]).toMatchObject({ valid: true });
    expect(verdicts[0]?.signedHeaders).not.toContain('x-amz-security-token');
    expect(upstream.requests[0]?.url).toBe(`/model/${encodeURIComponent(PROFILE_ARN)}/invoke`);
  });

  it('the verifier rejects a wrong signature (the check can fail)', async () => {
    harness = await bedrockProxy({ ...TEMPORARY, secretAccessKey: 'not-the-right-secret' });
    const reply = await proxyRequest(harness.socketPath, {
      method: 'POST',
      path: `/_workcell/bedrock/model/${encodeURIComponent(MODEL)}/invoke`,
      headers: { 'Content-Type': 'application/json' },
      body: invokeBody,
    });
    expect(reply.status).toBe(403);
    expect(verdicts).toEqual([
      expect.objectContaining({ valid: false, reason: 'signature mismatch' }),
    ]);
    // The same bytes with one body character changed fail as well.
    const seen = upstream.requests[0];
    const tampered = verifySigV4(
      {
        method: 'POST',
        url: seen?.url ?? '',
        rawHeaders: seen?.rawHeaders ?? [],
        body: Buffer.from(invokeBody.replace('hi', 'ho')),
      },
      { ...TEMPORARY, region: REGION, service: 'bedrock' },
    );
    expect(tampered.valid).toBe(false);
  });

  it('drops client Authorization, X-Amz-* and x-api-key headers and signs its own', async () => {
    harness = await bedrockProxy(TEMPORARY);
    const reply = await proxyRequest(harness.socketPath, {
      method: 'POST',
      path: `/_workcell/bedrock/model/${encodeURIComponent(MODEL)}/count-tokens`,
      headers: [
        'Host',
        '127.0.0.1:3128',
        'Content-Type',
        'application/json',
        'Authorization',
        'AWS4-HMAC-SHA256 Credential=AKIDCLIENT/20240101/us-west-2/bedrock/aws4_request, SignedHeaders=host, Signature=00',
        'X-Amz-Date',
        '20200101T000000Z',
        'x-amz-security-token',
        'client-token',
        'X-Amz-Content-Sha256',
        'UNSIGNED-PAYLOAD',
        'x-api-key',
        'client-key',
        'X-Amzn-Bedrock-Trace',
        'ENABLED',
      ],
      body: invokeBody,
    });
    expect(reply.status, reply.body).toBe(200);
    expect(verdicts[0]).toMatchObject({ valid: true });
    const raw = upstream.requests[0]?.rawHeaders ?? [];
    const joined = raw.join('\n');
    for (const leaked of [
      'AKIDCLIENT',
      '20200101T000000Z',
      'client-token',
      'UNSIGNED-PAYLOAD',
      'client-key',
    ])
      expect(joined).not.toContain(leaked);
    expect(joined).toContain('ENABLED');
    expect(
      raw.filter((_, i) => i % 2 === 0 && raw[i]?.toLowerCase() === 'authorization'),
    ).toHaveLength(1);
  });

  it("signs for the configured region and bedrock whatever scope the client's own credential names", async () => {
    harness = await bedrockProxy(TEMPORARY);
    const reply = await proxyRequest(harness.socketPath, {
      method: 'POST',
      path: `/_workcell/bedrock/model/${encodeURIComponent(MODEL)}/invoke`,
      headers: [
        'Host',
        '127.0.0.1:3128',
        'Content-Type',
        'application/json',
        'Authorization',
        'AWS4-HMAC-SHA256 Credential=AKIDCLIENT/20240101/eu-west-1/s3/aws4_request, SignedHeaders=host, Signature=00',
      ],
      body: invokeBody,
    });
    expect(reply.status, reply.body).toBe(200);
    expect(verdicts[0]).toMatchObject({ valid: true });
    const raw = upstream.requests[0]?.rawHeaders ?? [];
    const auth = raw.find((_, i) => i % 2 === 1 && raw[i - 1]?.toLowerCase() === 'authorization');
    expect(auth).toContain(`/${REGION}/bedrock/aws4_request`);
    expect(auth).not.toContain('eu-west-1');
    expect(auth).not.toContain('/s3/');
  });

  it('refuses presigned queries and forwards other query parameters signed', async () => {
    harness = await bedrockProxy(TEMPORARY);
    for (const query of [
      'X-Amz-Signature=abc',
      'x-amz-credential=AKID%2F2024',
      'X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=1',
    ]) {
      const reply = await proxyRequest(harness.socketPath, {
        method: 'POST',
        path: `/_workcell/bedrock/model/${MODEL}/invoke?${query}`,
        body: '{}',
      });
      expect(reply.status, query).toBe(400);
    }
    expect(upstream.requests).toEqual([]);
    const ok = await proxyRequest(harness.socketPath, {
      method: 'POST',
      path: `/_workcell/bedrock/model/m/invoke?trace=a%20b&x=1+2`,
      body: '{}',
    });
    expect(ok.status, ok.body).toBe(200);
    expect(verdicts[0]).toMatchObject({ valid: true });
  });

  it('answers 413 beyond the body cap, by Content-Length or while streaming, reaching nothing', async () => {
    harness = await bedrockProxy(TEMPORARY, 1024);
    const path = `/_workcell/bedrock/model/${MODEL}/invoke`;
    const big = 'x'.repeat(1025);
    expect(
      (await proxyRequest(harness.socketPath, { method: 'POST', path, body: big })).status,
    ).toBe(413);
    const chunked = await new Promise<number>((resolve, reject) => {
      const req = request(
        {
          socketPath: harness.socketPath,
          method: 'POST',
          path,
          agent: false,
          headers: { 'Transfer-Encoding': 'chunked' },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.write('x'.repeat(600));
      setTimeout(() => req.end('y'.repeat(600)), 20);
    });
    expect(chunked).toBe(413);
    expect(upstream.requests).toEqual([]);
    expect(
      (await proxyRequest(harness.socketPath, { method: 'POST', path, body: 'x'.repeat(1024) }))
        .status,
    ).toBe(200);
  });

  it('passes the event stream through byte for byte with its content type, frame by frame', async () => {
    harness = await bedrockProxy(TEMPORARY);
    const received: Buffer[] = [];
    const result = await new Promise<{ contentType: string | undefined; status: number }>(
      (resolve, reject) => {
        const req = request(
          {
            socketPath: harness.socketPath,
            method: 'POST',
            path: `/_workcell/bedrock/model/${encodeURIComponent(MODEL)}/invoke-with-response-stream`,
            agent: false,
            headers: {
              'Content-Type': 'application/json',
              Accept: 'application/vnd.amazon.eventstream',
            },
          },
          (res) => {
            let pending = Buffer.alloc(0);
            res.on('data', (chunk: Buffer) => {
              received.push(chunk);
              pending = Buffer.concat([pending, chunk]);
              // The upstream sends the next frame only once this one has arrived whole.
              const expectedLength =
                FRAMES[received.length - 1]?.length ?? Number.POSITIVE_INFINITY;
              if (pending.length >= expectedLength) {
                pending = Buffer.alloc(0);
                nextFrame();
              }
            });
            res.on('end', () =>
              resolve({ contentType: res.headers['content-type'], status: res.statusCode ?? 0 }),
            );
            res.on('error', reject);
          },
        );
        req.on('error', reject);
        req.end(invokeBody);
      },
    );
    expect(result.status).toBe(200);
    expect(result.contentType).toBe('application/vnd.amazon.eventstream');
    expect(Buffer.concat(received).equals(Buffer.concat(FRAMES.map((f) => Buffer.from(f))))).toBe(
      true,
    );
    const decoded = FRAMES.map((_, i) =>
      codec.decode(new Uint8Array(received[i] ?? Buffer.alloc(0))),
    );
    expect(decoded.map((m) => m.headers[':event-type']?.value)).toEqual([
      'chunk',
      'chunk',
      'chunk',
    ]);
  });

  it('forwards only the Bedrock runtime operations (POST) and the inference-profile listing (GET)', async () => {
    harness = await bedrockProxy(TEMPORARY);
    for (const path of [
      '/_workcell/bedrock/foundation-models',
      `/_workcell/bedrock/model/${MODEL}/converse`,
      '/_workcell/bedrock/model//invoke',
      `/_workcell/bedrock/model/${MODEL}/invoke/extra`,
    ]) {
      expect(
        (await proxyRequest(harness.socketPath, { method: 'POST', path, body: '{}' })).status,
        path,
      ).toBe(404);
    }
    expect(
      (
        await proxyRequest(harness.socketPath, {
          method: 'POST',
          path: '/_workcell/bedrock/model/..%2F..%2Fadmin/invoke',
          body: '{}',
        })
      ).status,
    ).toBe(400);
    expect(
      (
        await proxyRequest(harness.socketPath, {
          method: 'GET',
          path: `/_workcell/bedrock/model/${MODEL}/invoke`,
        })
      ).status,
    ).toBe(405);
    expect(
      (
        await proxyRequest(harness.socketPath, {
          method: 'POST',
          path: '/_workcell/bedrock/inference-profiles',
          body: '{}',
        })
      ).status,
    ).toBe(405);
    expect(upstream.requests).toEqual([]);
    // The read-only listing the CLI asks for at start is forwarded, signed.
    const listing = await proxyRequest(harness.socketPath, {
      method: 'GET',
      path: '/_workcell/bedrock/inference-profiles?maxResults=10',
    });
    expect(listing.status, listing.body).toBe(200);
    expect(upstream.requests[0]?.url).toBe('/inference-profiles?maxResults=10');
    expect(verdicts[0]).toMatchObject({ valid: true });
  });

  it('answers 503 when the credential chain fails, without its message', async () => {
    harness = await bedrockProxy(() =>
      Promise.reject(new Error(`could not load ${SECRETS.secretAccessKey}`)),
    );
    const reply = await proxyRequest(harness.socketPath, {
      method: 'POST',
      path: `/_workcell/bedrock/model/${MODEL}/invoke`,
      body: '{}',
    });
    expect(reply.status).toBe(503);
    expect(reply.body).not.toContain(SECRETS.secretAccessKey);
    expect(upstream.requests).toEqual([]);
  });
});
