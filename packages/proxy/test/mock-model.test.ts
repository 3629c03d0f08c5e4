import { request } from 'node:http';
import { EventStreamCodec } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import { startMockModel, type MockModel } from '@workcell/mock-model';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AwsCredentials } from '../src/index.js';
import { proxyRequest, secretHits, SECRETS, startProxy, type ProxyHarness } from './helpers.js';

/**
 * The proxy against the project's mock model, whose Bedrock endpoint checks SigV4 with aws4 and
 * answers in AWS event-stream framing, and whose Anthropic endpoint records the keys it gets.
 */
const REGION = 'us-east-1';
const MODEL = 'anthropic.claude-sonnet-4-20250514-v1:0';
const TEMPORARY: AwsCredentials = {
  accessKeyId: SECRETS.accessKeyId,
  secretAccessKey: SECRETS.secretAccessKey,
  sessionToken: SECRETS.sessionToken,
};
const codec = new EventStreamCodec(toUtf8, fromUtf8);

let mock: MockModel;
let harness: ProxyHarness;

beforeAll(async () => {
  mock = await startMockModel({ bedrock: { region: REGION, credentials: TEMPORARY } });
});

afterAll(async () => {
  await mock.close();
  expect(secretHits()).toEqual([]);
});

afterEach(async () => {
  await harness.close();
  mock.requests.length = 0;
});

function bedrockProxy(credentials: AwsCredentials = TEMPORARY): Promise<ProxyHarness> {
  return startProxy({
    anthropic: { upstream: new URL(mock.url), apiKey: () => SECRETS.anthropicKey },
    bedrock: {
      upstream: new URL(mock.url),
      region: REGION,
      credentials: async () => credentials,
      maxBodyBytes: 1024 * 1024,
    },
  });
}

const turn = (text: string): string =>
  JSON.stringify({
    anthropic_version: 'bedrock-2023-05-31',
    max_tokens: 64,
    messages: [{ role: 'user', content: text }],
  });

describe('against the mock model', () => {
  it('a streamed Bedrock turn with a ":" model id and a session token is accepted and streams back as frames', async () => {
    harness = await bedrockProxy();
    const frames = await new Promise<{ status: number; type: string | undefined; body: Buffer }>(
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
              'x-api-key': 'placeholder',
            },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () =>
              resolve({
                status: res.statusCode ?? 0,
                type: res.headers['content-type'],
                body: Buffer.concat(chunks),
              }),
            );
            res.on('error', reject);
          },
        );
        req.on('error', reject);
        req.end(turn('MOCK:{"text": "signed and streamed"}'));
      },
    );
    expect(frames.status, frames.body.toString()).toBe(200);
    expect(frames.type).toBe('application/vnd.amazon.eventstream');
    expect(mock.requests).toHaveLength(1);
    expect(mock.requests[0]).toMatchObject({ api: 'bedrock', signatureValid: true, apiKeys: [] });
    expect(mock.requests[0]?.path).toContain('v1%3A0');
    const texts: string[] = [];
    for (let offset = 0; offset < frames.body.length;) {
      const length = frames.body.readUInt32BE(offset);
      const message = codec.decode(new Uint8Array(frames.body.subarray(offset, offset + length)));
      const payload = JSON.parse(toUtf8(message.body)) as { bytes: string };
      const event = JSON.parse(Buffer.from(payload.bytes, 'base64').toString('utf8')) as {
        delta?: { text?: string };
      };
      if (event.delta?.text) texts.push(event.delta.text);
      offset += length;
    }
    expect(texts.join('')).toBe('signed and streamed');
  });

  it('a non-streamed invoke, count-tokens and the inference-profile listing are accepted', async () => {
    harness = await bedrockProxy();
    const invoke = await proxyRequest(harness.socketPath, {
      method: 'POST',
      path: `/_workcell/bedrock/model/${encodeURIComponent(MODEL)}/invoke`,
      headers: { 'Content-Type': 'application/json' },
      body: turn('MOCK:{"text": "ok"}'),
    });
    expect(invoke.status, invoke.body).toBe(200);
    const count = await proxyRequest(harness.socketPath, {
      method: 'POST',
      path: `/_workcell/bedrock/model/${encodeURIComponent(MODEL)}/count-tokens`,
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ input: { invokeModel: { body: turn('hi') } } }),
    });
    expect(count.status, count.body).toBe(200);
    const profiles = await proxyRequest(harness.socketPath, {
      method: 'GET',
      path: '/_workcell/bedrock/inference-profiles?typeEquals=SYSTEM_DEFINED&maxResults=100',
    });
    expect(profiles.status, profiles.body).toBe(200);
    expect(mock.requests.map((r) => r.signatureValid)).toEqual([true, true, true]);
  });

  it('the mock rejects a request signed with the wrong secret (the check can fail)', async () => {
    harness = await bedrockProxy({ ...TEMPORARY, secretAccessKey: 'wrong-secret-for-this-test' });
    const reply = await proxyRequest(harness.socketPath, {
      method: 'POST',
      path: `/_workcell/bedrock/model/${encodeURIComponent(MODEL)}/invoke`,
      headers: { 'Content-Type': 'application/json' },
      body: turn('hi'),
    });
    expect(reply.status).toBe(403);
    expect(mock.requests[0]?.signatureValid).toBe(false);
  });

  it('the Anthropic route delivers exactly the host key', async () => {
    harness = await bedrockProxy();
    const reply = await proxyRequest(harness.socketPath, {
      method: 'POST',
      path: '/_workcell/anthropic/v1/messages?beta=true',
      headers: [
        'Host',
        '127.0.0.1:3128',
        'Content-Type',
        'application/json',
        'x-api-key',
        'placeholder',
        'X-Api-Key',
        'other',
        'Authorization',
        'Bearer t',
        'anthropic-version',
        '2023-06-01',
      ],
      body: JSON.stringify({
        model: 'claude',
        max_tokens: 16,
        messages: [{ role: 'user', content: 'MOCK:{"text": "hi"}' }],
      }),
    });
    expect(reply.status, reply.body).toBe(200);
    expect(mock.requests[0]).toMatchObject({
      api: 'anthropic',
      apiKeys: [SECRETS.anthropicKey],
      authorization: [],
    });
  });
});
