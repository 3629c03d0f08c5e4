import type { ClientRequest, IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex, Readable } from 'node:stream';
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
  const invalid = unrelayableHead(status, upstream.statusMessage, headers);
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
 * An upstream that switches protocols (`101` with `Upgrade`) is not relayed: the proxy speaks
 * HTTP/1.1 requests only. Without a listener Node's client would leave the exchange hanging.
 */
export function refuseUpgrades(
  ctx: RequestContext,
  upstreamReq: ClientRequest,
  res: ServerResponse,
  fail: () => void,
  onRefused: () => void = () => undefined,
): void {
  upstreamReq.on(
    'upgrade',
    guarded(ctx, fail, (_upstream: IncomingMessage, socket: Duplex) => {
      onRefused();
      socket.destroy();
      failResponse(
        ctx,
        res,
        refusal(
          'upstream_invalid_response',
          'upstream-invalid-response',
          'the upstream switched protocols; only HTTP/1.1 answers are relayed',
        ),
      );
    }),
  );
}

/** Request bytes kept while a request is in flight, so it can be sent again (see `isStaleReuse`). */
const REPLAY_MAX_BYTES = 1024 * 1024;

/**
 * Whether an upstream request failed because it went out on a kept-alive connection the
 * upstream had closed meanwhile (the keep-alive race): no answer came, the connection was a
 * reused one, and it was reset or closed. Such a request never reached the upstream's
 * application, so it is sent once more on a fresh connection.
 */
export function isStaleReuse(upstreamReq: ClientRequest, err: Error): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return (
    upstreamReq.reusedSocket &&
    (code === 'ECONNRESET' || code === 'EPIPE' || err.message === 'socket hang up')
  );
}

/**
 * Sends the container's request body to the upstream as it arrives, counting bytes, and ties
 * the two exchanges together: the upstream request stops when the container goes away, and an
 * upstream failure before any response answers 503. `open` makes the upstream request; it is
 * called once more when the first try meets a connection the upstream had closed
 * (`isStaleReuse`), with the body bytes sent so far written again (bodies up to 1 MiB).
 */
export function relayRequest(
  ctx: RequestContext,
  req: IncomingMessage,
  res: ServerResponse,
  open: () => ClientRequest,
  onUpstreamError: (err: Error) => void,
): void {
  const kept: Buffer[] = [];
  let keptBytes = 0;
  let replayable = true;
  let ended = false;
  req.on('data', (chunk: Buffer) => {
    ctx.entry.record.bytesOut += chunk.length;
    if (!replayable) return;
    keptBytes += chunk.length;
    if (keptBytes > REPLAY_MAX_BYTES) {
      replayable = false;
      kept.length = 0;
    } else kept.push(chunk);
  });
  req.once('end', () => {
    ended = true;
  });
  const first = open();
  wireUpstream(ctx, res, first, onUpstreamError, undefined, () => {
    if (!replayable) return false;
    req.unpipe(first);
    const again = open();
    wireUpstream(ctx, res, again, onUpstreamError);
    for (const chunk of kept) again.write(chunk);
    if (ended) again.end();
    else req.pipe(again);
    return true;
  });
  req.pipe(first);
}

/**
 * The shared half of `relayRequest`, for a body already in memory. `retry`, when given, is asked
 * once to send the request again after a stale kept-alive connection failed it (`isStaleReuse`);
 * it answers whether it did.
 */
export function wireUpstream(
  ctx: RequestContext,
  res: ServerResponse,
  upstreamReq: ClientRequest,
  onUpstreamError: (err: Error) => void,
  onResponse: (upstream: IncomingMessage) => void = (upstream) => relayResponse(ctx, upstream, res),
  retry?: () => boolean,
): void {
  const fail = (): void => {
    upstreamReq.destroy();
    failResponse(ctx, res, INTERNAL);
  };
  let answered = false;
  upstreamReq.on(
    'response',
    guarded(ctx, fail, (upstream: IncomingMessage) => {
      answered = true;
      onResponse(upstream);
    }),
  );
  refuseUpgrades(ctx, upstreamReq, res, fail, () => {
    answered = true;
  });
  upstreamReq.on(
    'error',
    guarded(ctx, fail, (err: Error) => {
      if (
        !answered &&
        !res.headersSent &&
        !res.destroyed &&
        retry &&
        isStaleReuse(upstreamReq, err)
      ) {
        const again = retry;
        retry = undefined;
        if (again()) return;
      }
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
