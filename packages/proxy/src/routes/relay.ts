import type { ClientRequest, IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { forwardableHeaders } from '../http/headers.js';
import { refusal, sendAnswer, type ProxyAnswer } from '../http/responses.js';
import { unrelayableHead } from '../http/upstream-head.js';
import type { RequestContext } from './context.js';

/**
 * Runs an event handler so that nothing it throws reaches the event loop (where it would end
 * the host process): a throw is logged and handed to `fail`, and a throw from `fail` itself is
 * swallowed after it is logged. Every listener a route attaches to a socket, request or
 * response goes through here.
 */
export function guarded<A extends unknown[]>(
  ctx: RequestContext,
  fail: (err: unknown) => void,
  handler: (...args: A) => void,
): (...args: A) => void {
  return (...args: A): void => {
    try {
      handler(...args);
    } catch (err) {
      ctx.core.logger.error(
        {
          workspaceId: ctx.identity.workspaceId,
          error: err instanceof Error ? (err.stack ?? err.message) : String(err),
        },
        'proxy handler failed',
      );
      try {
        fail(err);
      } catch {
        // The fallback could not answer either; the connection is already being torn down.
      }
    }
  };
}

/** Answers `answer` when nothing was sent yet, else cuts the response; records what was sent. */
export function failResponse(ctx: RequestContext, res: ServerResponse, answer: ProxyAnswer): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  ctx.entry.record.reason = answer.reason;
  ctx.entry.record.status = answer.status;
  sendAnswer(res, answer);
}

const INTERNAL = refusal('internal', 'internal-error', 'the proxy failed to handle the request');

/**
 * Writes the upstream's status and `headers` to the container, or answers 502
 * `upstream_invalid_response` when they cannot be written (and drops the upstream). The
 * upstream's reason phrase is never relayed. Answers whether the head went out.
 */
export function writeUpstreamHead(
  ctx: RequestContext,
  upstream: IncomingMessage,
  res: ServerResponse,
  headers: readonly string[],
): boolean {
  const status = upstream.statusCode;
  const invalid = unrelayableHead(status, headers);
  if (invalid !== null || status === undefined) {
    ctx.core.logger.warn(
      { workspaceId: ctx.identity.workspaceId, host: ctx.entry.record.host, problem: invalid },
      'upstream response refused',
    );
    upstream.destroy();
    failResponse(
      ctx,
      res,
      refusal('upstream_invalid_response', 'upstream-invalid-response', invalid ?? 'no status'),
    );
    return false;
  }
  ctx.entry.record.status = status;
  res.writeHead(status, headers as string[]);
  return true;
}

/** Pipes an upstream body (or a transform of it) to the container, counting upstream bytes. */
export function pipeBody(
  ctx: RequestContext,
  upstream: IncomingMessage,
  body: Readable,
  res: ServerResponse,
): void {
  upstream.on('data', (chunk: Buffer) => {
    ctx.entry.record.bytesIn += chunk.length;
  });
  upstream.on('error', () => res.destroy());
  if (body !== upstream) body.on('error', () => res.destroy());
  body.pipe(res);
}

/**
 * Relays an upstream response to the container as it arrives: status, end-to-end headers
 * (content type included, so an event stream stays one), and each body chunk as it is read.
 * Redirects are relayed like any other status, never followed.
 */
export function relayResponse(
  ctx: RequestContext,
  upstream: IncomingMessage,
  res: ServerResponse,
): void {
  upstream.on('error', () => res.destroy());
  if (!writeUpstreamHead(ctx, upstream, res, forwardableHeaders(upstream.rawHeaders))) return;
  res.flushHeaders();
  pipeBody(ctx, upstream, upstream, res);
}

/**
 * Sends the container's request body to the upstream as it arrives, counting bytes, and ties
 * the two exchanges together: the upstream request stops when the container goes away, and an
 * upstream failure before any response answers 503.
 */
export function relayRequest(
  ctx: RequestContext,
  req: IncomingMessage,
  res: ServerResponse,
  upstreamReq: ClientRequest,
  onUpstreamError: (err: Error) => void,
): void {
  wireUpstream(ctx, res, upstreamReq, onUpstreamError);
  req.on('data', (chunk: Buffer) => {
    ctx.entry.record.bytesOut += chunk.length;
  });
  req.pipe(upstreamReq);
}

/** The shared half of `relayRequest`, for a body already in memory. */
export function wireUpstream(
  ctx: RequestContext,
  res: ServerResponse,
  upstreamReq: ClientRequest,
  onUpstreamError: (err: Error) => void,
  onResponse: (upstream: IncomingMessage) => void = (upstream) => relayResponse(ctx, upstream, res),
): void {
  const fail = (): void => {
    upstreamReq.destroy();
    failResponse(ctx, res, INTERNAL);
  };
  upstreamReq.on('response', guarded(ctx, fail, onResponse));
  upstreamReq.on(
    'error',
    guarded(ctx, fail, (err: Error) => {
      onUpstreamError(err);
      failResponse(
        ctx,
        res,
        refusal('dependency_unavailable', 'upstream-failed', 'the upstream did not answer'),
      );
    }),
  );
  res.on('close', () => {
    if (!res.writableFinished) upstreamReq.destroy();
  });
}
