/**
 * The Anthropic Messages API routes: `POST /v1/messages` (JSON or SSE) and
 * `POST /v1/messages/count_tokens`.
 */
import type { ServerResponse } from 'node:http';
import { clientGone, sendJson, writeChunk } from './http.js';
import type { StreamEvent } from './message.js';
import { noteClientLeft, type RouteContext } from './route.js';
import { countTokens, streamTurn, takeTurn, waitForTurn } from './turn.js';

const DEFAULT_MODEL = 'claude-mock';

/** Answers an error in the Anthropic API's shape. */
export function sendAnthropicError(
  res: ServerResponse,
  status: number,
  type: string,
  message: string,
): void {
  sendJson(res, status, { type: 'error', error: { type, message } });
}

function parseJsonObject(ctx: RouteContext): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(ctx.body.toString('utf8'));
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      return value as Record<string, unknown>;
    }
  } catch {
    // Falls through to the error answer below.
  }
  sendAnthropicError(
    ctx.res,
    400,
    'invalid_request_error',
    'The request body is not a JSON object.',
  );
  return null;
}

/** `POST /v1/messages/count_tokens`: a plausible count of the request's tokens. */
export function handleCountTokens(ctx: RouteContext): void {
  const body = parseJsonObject(ctx);
  if (body === null) return;
  ctx.record.model = typeof body.model === 'string' ? body.model : null;
  sendJson(ctx.res, 200, {
    input_tokens: countTokens({ system: body.system, messages: body.messages, tools: body.tools }),
  });
}

/** `POST /v1/messages`: one model turn, streamed as SSE when the body asks for `stream`. */
export async function handleMessages(ctx: RouteContext): Promise<void> {
  const body = parseJsonObject(ctx);
  if (body === null) return;
  if (!Array.isArray(body.messages)) {
    sendAnthropicError(ctx.res, 400, 'invalid_request_error', 'messages: Field required');
    return;
  }
  const model = typeof body.model === 'string' ? body.model : DEFAULT_MODEL;
  const turn = takeTurn(body, model);
  ctx.record.model = model;
  ctx.record.stream = body.stream === true;
  ctx.record.userText = turn.view.userText;
  ctx.record.thinking = body.thinking ?? null;

  const { res } = ctx;
  const signal = clientGone(res);
  if (body.stream !== true) {
    if (await waitForTurn(turn, signal)) {
      sendJson(res, 200, turn.message, { 'request-id': ctx.requestId });
    } else {
      noteClientLeft(ctx);
    }
    return;
  }
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    'request-id': ctx.requestId,
  });
  res.flushHeaders();
  const emit = (event: StreamEvent): Promise<void> =>
    writeChunk(res, `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
  if (await streamTurn(turn, emit, signal, { ping: true })) res.end();
  else noteClientLeft(ctx);
}
