import { Sha256 } from '@aws-crypto/sha256-js';
import { EventStreamCodec } from '@smithy/eventstream-codec';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import { afterEach, describe, expect, it } from 'vitest';
import { startMockModel, type BedrockVerification, type MockModel } from '../src/index.js';
import { rawRequest, userMessage, type RawResponse } from './helpers.js';

const REGION = 'us-east-1';
const CREDENTIALS = { accessKeyId: 'AKIDMOCKTEST', secretAccessKey: 'mock-secret-key/with+chars' };
const SESSION_CREDENTIALS = { ...CREDENTIALS, sessionToken: 'mock-session-token==' };
const MODEL_WITH_COLON = 'us.anthropic.claude-sonnet-4-5-20250929-v1:0';
const PROFILE_ARN =
  'arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-sonnet-4-v1:0';

let mock: MockModel | undefined;

afterEach(async () => {
  await mock?.close();
  mock = undefined;
});

async function start(bedrock?: BedrockVerification): Promise<MockModel> {
  mock = await startMockModel(bedrock ? { bedrock } : {});
  return mock;
}

/** The path the AWS SDK sends for a model id: the id percent-encoded as one segment. */
function modelPath(modelId: string, operation: string): string {
  return `/model/${encodeURIComponent(modelId)}/${operation}`;
}

function invokeBody(prompt: string): string {
  return JSON.stringify({
    anthropic_version: 'bedrock-2023-05-31',
    max_tokens: 1024,
    tools: [{ name: 'Write', input_schema: { type: 'object' } }],
    messages: [userMessage(prompt)],
  });
}

/** Signs a request the way the credential proxy does, with @smithy/signature-v4. */
async function signRequest(
  target: MockModel,
  request: {
    method?: string;
    path: string;
    query?: Record<string, string>;
    body: string;
    credentials: BedrockVerification['credentials'];
  },
): Promise<Record<string, string>> {
  const signer = new SignatureV4({
    credentials: request.credentials,
    region: REGION,
    service: 'bedrock',
    sha256: Sha256,
  });
  const host = `127.0.0.1:${target.port}`;
  const signed = await signer.sign(
    new HttpRequest({
      method: request.method ?? 'POST',
      protocol: 'http:',
      hostname: '127.0.0.1',
      port: target.port,
      path: request.path,
      query: request.query ?? {},
      headers: { host, 'content-type': 'application/json', accept: 'application/json' },
      body: request.body,
    }),
  );
  return signed.headers;
}

async function signedInvoke(
  target: MockModel,
  options: {
    path: string;
    body: string;
    credentials?: BedrockVerification['credentials'];
    sendBody?: string;
    sendPath?: string;
  },
): Promise<RawResponse> {
  const headers = await signRequest(target, {
    path: options.path,
    body: options.body,
    credentials: options.credentials ?? CREDENTIALS,
  });
  return rawRequest(target.url, {
    method: 'POST',
    path: options.sendPath ?? options.path,
    headers,
    body: options.sendBody ?? options.body,
  });
}

function expectSignatureRejected(response: RawResponse, target: MockModel): void {
  expect(response.status).toBe(403);
  expect(response.headers['x-amzn-errortype']).toBe('InvalidSignatureException');
  expect((JSON.parse(response.body.toString()) as { message: string }).message).toMatch(
    /^The request signature we calculated does not match/,
  );
  expect(target.requests.at(-1)?.signatureValid).toBe(false);
}

/** Cuts an event-stream body into messages (each starts with its total length) and decodes them. */
function decodeFrames(
  body: Buffer,
): { headers: Record<string, unknown>; event: Record<string, unknown> }[] {
  const codec = new EventStreamCodec(toUtf8, fromUtf8);
  const frames: { headers: Record<string, unknown>; event: Record<string, unknown> }[] = [];
  let offset = 0;
  while (offset < body.length) {
    const length = body.readUInt32BE(offset);
    const message = codec.decode(body.subarray(offset, offset + length));
    offset += length;
    const headers = Object.fromEntries(
      Object.entries(message.headers).map(([name, header]) => [name, header.value]),
    );
    const payload = JSON.parse(toUtf8(message.body)) as { bytes: string };
    const event = JSON.parse(Buffer.from(payload.bytes, 'base64').toString('utf8')) as Record<
      string,
      unknown
    >;
    frames.push({ headers, event });
  }
  return frames;
}

describe('Bedrock signature verification', () => {
  it('accepts a request signed by @smithy/signature-v4 for a model id containing ":"', async () => {
    const target = await start({ region: REGION, credentials: CREDENTIALS });
    const path = modelPath(MODEL_WITH_COLON, 'invoke');
    expect(path).toContain('%3A');
    const response = await signedInvoke(target, {
      path,
      body: invokeBody('MOCK:{"text": "signed ok"}'),
    });
    expect(response.status).toBe(200);
    expect(JSON.parse(response.body.toString())).toMatchObject({
      type: 'message',
      model: MODEL_WITH_COLON,
      content: [{ type: 'text', text: 'signed ok' }],
      stop_reason: 'end_turn',
    });
    expect(target.requests.at(-1)).toMatchObject({
      api: 'bedrock',
      path,
      model: MODEL_WITH_COLON,
      signatureValid: true,
      stream: false,
      apiKeys: [],
    });
  });

  it('accepts an inference-profile ARN signed with a session token', async () => {
    const target = await start({ region: REGION, credentials: SESSION_CREDENTIALS });
    const path = modelPath(PROFILE_ARN, 'invoke-with-response-stream');
    expect(path).toContain('%2F');
    const response = await signedInvoke(target, {
      path,
      body: invokeBody('hello bedrock'),
      credentials: SESSION_CREDENTIALS,
    });
    expect(response.status).toBe(200);
    expect(target.requests.at(-1)).toMatchObject({
      signatureValid: true,
      model: PROFILE_ARN,
      stream: true,
    });
  });

  it('accepts the path as the Claude CLI sends it: ":" kept as is, "/" as %2F', async () => {
    const target = await start({ region: REGION, credentials: CREDENTIALS });
    const path = `/model/${encodeURIComponent(PROFILE_ARN).replaceAll('%3A', ':')}/invoke`;
    expect(path).toContain('inference-profile%2Fus.anthropic');
    const response = await signedInvoke(target, {
      path,
      body: invokeBody('MOCK:{"text": "cli form"}'),
    });
    expect(response.status).toBe(200);
    expect(target.requests.at(-1)).toMatchObject({ signatureValid: true, model: PROFILE_ARN });
  });

  it('rejects a wrong secret, a wrong or missing session token, and no signature at all', async () => {
    const target = await start({ region: REGION, credentials: SESSION_CREDENTIALS });
    const path = modelPath(MODEL_WITH_COLON, 'invoke');
    const body = invokeBody('hi');

    const wrongSecret = await signedInvoke(target, {
      path,
      body,
      credentials: { ...SESSION_CREDENTIALS, secretAccessKey: 'not-the-secret' },
    });
    expectSignatureRejected(wrongSecret, target);

    const wrongToken = await signedInvoke(target, {
      path,
      body,
      credentials: { ...SESSION_CREDENTIALS, sessionToken: 'another-token' },
    });
    expectSignatureRejected(wrongToken, target);

    const noToken = await signedInvoke(target, { path, body, credentials: CREDENTIALS });
    expectSignatureRejected(noToken, target);

    const unsigned = await rawRequest(target.url, {
      method: 'POST',
      path,
      headers: { 'content-type': 'application/json' },
      body,
    });
    expectSignatureRejected(unsigned, target);
    expect(target.requests.every((r) => r.signatureValid === false)).toBe(true);
  });

  it('rejects a tampered body and a tampered path', async () => {
    const target = await start({ region: REGION, credentials: CREDENTIALS });
    const path = modelPath(MODEL_WITH_COLON, 'invoke');
    const tamperedBody = await signedInvoke(target, {
      path,
      body: invokeBody('MOCK:{"text": "signed"}'),
      sendBody: invokeBody('MOCK:{"text": "swapped"}'),
    });
    expectSignatureRejected(tamperedBody, target);

    const otherModel = await signedInvoke(target, {
      path,
      body: invokeBody('hi'),
      sendPath: modelPath('us.anthropic.claude-haiku-4-5-v1:0', 'invoke'),
    });
    expectSignatureRejected(otherModel, target);

    // The same path with ':' sent raw instead of %3A is a different canonical URI.
    const decodedPath = await signedInvoke(target, {
      path,
      body: invokeBody('hi'),
      sendPath: `/model/${MODEL_WITH_COLON}/invoke`,
    });
    expectSignatureRejected(decodedPath, target);
  });

  it('rejects a body whose declared hash is rewritten along with it', async () => {
    const target = await start({ region: REGION, credentials: CREDENTIALS });
    const path = modelPath(MODEL_WITH_COLON, 'invoke');
    const headers = await signRequest(target, {
      path,
      body: invokeBody('original'),
      credentials: CREDENTIALS,
    });
    const swapped = invokeBody('swapped');
    const { createHash } = await import('node:crypto');
    headers['x-amz-content-sha256'] = createHash('sha256').update(swapped).digest('hex');
    const response = await rawRequest(target.url, { method: 'POST', path, headers, body: swapped });
    expectSignatureRejected(response, target);
  });

  it('accepts unsigned requests when verification is off', async () => {
    const target = await start();
    const response = await rawRequest(target.url, {
      method: 'POST',
      path: modelPath(MODEL_WITH_COLON, 'invoke'),
      headers: { 'content-type': 'application/json' },
      body: invokeBody('MOCK:{"text": "open"}'),
    });
    expect(response.status).toBe(200);
    expect(target.requests.at(-1)?.signatureValid).toBeNull();
  });
});

describe('Bedrock runtime API', () => {
  it('streams Anthropic events as AWS event-stream chunk frames', async () => {
    const target = await start({ region: REGION, credentials: CREDENTIALS });
    const prompt =
      'MOCK:{"text": "framed"}\nMOCK:{"tool": "Write", "input": {"file_path": "a.txt", "content": "x"}}';
    const response = await signedInvoke(target, {
      path: modelPath(MODEL_WITH_COLON, 'invoke-with-response-stream'),
      body: invokeBody(prompt),
    });
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toBe('application/vnd.amazon.eventstream');
    const frames = decodeFrames(response.body);
    for (const frame of frames) {
      expect(frame.headers).toEqual({
        ':message-type': 'event',
        ':event-type': 'chunk',
        ':content-type': 'application/json',
      });
    }
    const events = frames.map((frame) => frame.event);
    expect(events.map((event) => event.type)).toEqual([
      'message_start',
      'content_block_start',
      'content_block_delta',
      'content_block_stop',
      'content_block_start',
      ...events
        .filter((e) => (e.delta as { type?: string } | undefined)?.type === 'input_json_delta')
        .map(() => 'content_block_delta'),
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    expect((events[0]?.message as { model: string }).model).toBe(MODEL_WITH_COLON);
    expect((events[2]?.delta as { text: string }).text).toBe('framed');
    expect(events[4]?.content_block).toMatchObject({ type: 'tool_use', name: 'Write' });
    const json = events
      .map((e) => (e.delta as { partial_json?: string } | undefined)?.partial_json ?? '')
      .join('');
    expect(JSON.parse(json)).toEqual({ file_path: '/workspace/a.txt', content: 'x' });
    expect(events.at(-2)).toMatchObject({
      type: 'message_delta',
      delta: { stop_reason: 'tool_use' },
    });
    expect(events.at(-1)?.['amazon-bedrock-invocationMetrics']).toMatchObject({
      inputTokenCount: expect.any(Number),
    });
  });

  it('answers count-tokens and the inference-profile listing, and rejects bodies Bedrock refuses', async () => {
    const target = await start({ region: REGION, credentials: CREDENTIALS });
    const countBody = JSON.stringify({ input: { invokeModel: { body: invokeBody('count me') } } });
    const count = await signedInvoke(target, {
      path: modelPath(MODEL_WITH_COLON, 'count-tokens'),
      body: countBody,
    });
    expect(count.status).toBe(200);
    expect(
      (JSON.parse(count.body.toString()) as { inputTokens: number }).inputTokens,
    ).toBeGreaterThan(0);

    const listHeaders = await signRequest(target, {
      method: 'GET',
      path: '/inference-profiles',
      query: { type: 'SYSTEM_DEFINED' },
      body: '',
      credentials: CREDENTIALS,
    });
    const list = await rawRequest(target.url, {
      method: 'GET',
      path: '/inference-profiles?type=SYSTEM_DEFINED',
      headers: listHeaders,
    });
    expect(list.status).toBe(200);
    expect(JSON.parse(list.body.toString())).toEqual({ inferenceProfileSummaries: [] });

    const withModel = await signedInvoke(target, {
      path: modelPath(MODEL_WITH_COLON, 'invoke'),
      body: JSON.stringify({ ...JSON.parse(invokeBody('hi')), model: 'claude' }),
    });
    expect(withModel.status).toBe(400);
    expect(withModel.headers['x-amzn-errortype']).toBe('ValidationException');

    expect(target.requests.every((r) => r.api === 'bedrock' && r.signatureValid === true)).toBe(
      true,
    );

    const unknown = await signedInvoke(target, {
      path: modelPath(MODEL_WITH_COLON, 'converse'),
      body: '{}',
    });
    expect(unknown.status).toBe(404);
    expect(unknown.headers['x-amzn-errortype']).toBe('UnknownOperationException');
  });
});
