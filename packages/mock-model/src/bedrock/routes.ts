/**
 * The Bedrock runtime routes for Anthropic models: `POST /model/<id>/invoke` (JSON),
 * `/invoke-with-response-stream` (AWS event-stream frames) and `/count-tokens`. When
 * verification is configured, every request's SigV4 signature is checked first.
 */
import type { ServerResponse } from 'node:http';
import { clientGone, sendJson, writeChunk } from '../http.js';
import type { StreamEvent } from '../message.js';
import { noteClientLeft, type RouteContext } from '../route.js';
import { countTokens, streamTurn, takeTurn, waitForTurn } from '../turn.js';
import { EVENT_STREAM_CONTENT_TYPE, encodeChunkFrame } from './event-stream.js';
import { verifySignature, type BedrockVerification } from './signature.js';

export type BedrockOperation = 'invoke' | 'invoke-with-response-stream' | 'count-tokens';

/** Matches a Bedrock runtime path; the model id stays percent-encoded in group 1. */
export const BEDROCK_PATH = /^\/model\/(.+)\/(invoke|invoke-with-response-stream|count-tokens)$/;

/** The Bedrock control-plane path the CLI lists inference profiles on. */
export const INFERENCE_PROFILES_PATH = '/inference-profiles';

/** True for paths in Bedrock's API (the runtime or the listing above). */
export function isBedrockPath(path: string): boolean {
  return path.startsWith('/model/') || path === INFERENCE_PROFILES_PATH;
}

export const SIGNATURE_MISMATCH_MESSAGE =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';

const BEDROCK_ANTHROPIC_VERSION = 'bedrock-2023-05-31';

/** Answers an error in Bedrock's shape: `{message}` and the `x-amzn-errortype` header. */
export function sendBedrockError(
  res: ServerResponse,
  status: number,
  type: string,
  message: string,
): void {
  sendJson(res, status, { message }, { 'x-amzn-errortype': type });
}

function decodeModelId(encoded: string): string {
  try {
    return decodeURIComponent(encoded);
  } catch {
    return encoded;
  }
}

function parseBody(ctx: RouteContext): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(ctx.body.toString('utf8'));
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      return value as Record<string, unknown>;
    }
  } catch {
    // Falls through to the error answer below.
  }
  sendBedrockError(
    ctx.res,
    400,
    'ValidationException',
    'Malformed input request: the body is not a JSON object.',
  );
  return null;
}

/** The invoke body rules Bedrock enforces for Anthropic models; null when the body is fine. */
function invokeBodyProblem(body: Record<string, unknown>): string | null {
  if (body.anthropic_version !== BEDROCK_ANTHROPIC_VERSION) {
    return `Malformed input request: anthropic_version must be "${BEDROCK_ANTHROPIC_VERSION}".`;
  }
  for (const key of ['model', 'stream']) {
    if (key in body) {
      return `Malformed input request: #: extraneous key [${key}] is not permitted, please reformat your input and try again.`;
    }
  }
  if (!Array.isArray(body.messages))
    return 'Malformed input request: #: required key [messages] not found.';
  return null;
}

/**
 * Checks the request's signature when verification is configured, records the verdict and
 * answers 403 when it fails; true when the request may proceed.
 */
function signatureAccepted(
  ctx: RouteContext,
  verification: BedrockVerification | undefined,
): boolean {
  if (verification === undefined) return true;
  const verdict = verifySignature(
    {
      method: ctx.req.method ?? '',
      rawPath: ctx.req.url ?? '/',
      headers: ctx.req.headers,
      body: ctx.body,
    },
    verification,
    Date.now(),
  );
  ctx.record.signatureValid = verdict.valid;
  if (verdict.valid) return true;
  ctx.logger.warn(
    { path: ctx.req.url, reason: verdict.reason },
    'mock-model rejected a Bedrock signature',
  );
  sendBedrockError(ctx.res, 403, 'InvalidSignatureException', SIGNATURE_MISMATCH_MESSAGE);
  return false;
}

/**
 * `GET /inference-profiles`: the Bedrock control-plane listing the CLI asks its Bedrock base URL
 * for at start; the mock has no inference profiles to offer.
 */
export function handleListInferenceProfiles(
  ctx: RouteContext,
  verification: BedrockVerification | undefined,
): void {
  if (!signatureAccepted(ctx, verification)) return;
  sendJson(ctx.res, 200, { inferenceProfileSummaries: [] }, { 'x-amzn-requestid': ctx.requestId });
}

/** Handles one Bedrock runtime request whose path matched `BEDROCK_PATH`. */
export async function handleBedrock(
  ctx: RouteContext,
  encodedModelId: string,
  operation: BedrockOperation,
  verification: BedrockVerification | undefined,
): Promise<void> {
  const { res } = ctx;
  const model = decodeModelId(encodedModelId);
  ctx.record.model = model;
  ctx.record.stream = operation === 'invoke-with-response-stream';
  if (!signatureAccepted(ctx, verification)) return;

  const body = parseBody(ctx);
  if (body === null) return;
  if (operation === 'count-tokens') {
    sendJson(res, 200, { inputTokens: countTokens(body) });
    return;
  }
  const problem = invokeBodyProblem(body);
  if (problem !== null) {
    sendBedrockError(res, 400, 'ValidationException', problem);
    return;
  }

  const turn = takeTurn(body, model);
  ctx.record.userText = turn.view.userText;
  ctx.record.thinking = body.thinking ?? null;
  const signal = clientGone(res);
  const requestHeaders = { 'x-amzn-requestid': ctx.requestId };
  if (operation === 'invoke') {
    if (await waitForTurn(turn, signal)) sendJson(res, 200, turn.message, requestHeaders);
    else noteClientLeft(ctx);
    return;
  }

  res.writeHead(200, { 'content-type': EVENT_STREAM_CONTENT_TYPE, ...requestHeaders });
  res.flushHeaders();
  const startedAt = Date.now();
  const decorate = (event: StreamEvent): StreamEvent => {
    if (event.type !== 'message_stop') return event;
    const latency = Date.now() - startedAt;
    return {
      ...event,
      'amazon-bedrock-invocationMetrics': {
        inputTokenCount: turn.message.usage.input_tokens,
        outputTokenCount: turn.message.usage.output_tokens,
        invocationLatency: latency,
        firstByteLatency: latency,
      },
    };
  };
  const emit = (event: StreamEvent): Promise<void> => writeChunk(res, encodeChunkFrame(event));
  if (await streamTurn(turn, emit, signal, { ping: false, decorate })) res.end();
  else noteClientLeft(ctx);
}
