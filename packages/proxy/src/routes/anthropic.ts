import {
  request as httpRequest,
  type ClientRequest,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { request as httpsRequest } from 'node:https';
import { refuse, type RequestContext } from './context.js';
import { forwardableRequestHeaders, framingHeaders, type RequestFraming } from '../http/headers.js';
import { relayRequest } from './relay.js';
import { refusal } from '../http/responses.js';
import {
  basePath,
  checkSubpath,
  splitPathQuery,
  upstreamHostname,
  upstreamPort,
} from '../http/targets.js';
import { TargetRefusal } from '../net/host.js';
import { isAllowedOperation } from './anthropic-operations.js';

/** Client headers that could carry a credential of the container's choosing. */
const CLIENT_AUTH = new Set(['host', 'x-api-key', 'authorization']);

/**
 * `/_workcell/anthropic/*` to the Anthropic upstream, for the allowed operations only (404
 * otherwise): every client auth header goes (any case, any number), exactly one `x-api-key` from
 * the host is added, the body goes with framing the proxy states itself, over the calling
 * listener's own connections, and the response streams back as it arrives.
 */
export function forwardAnthropic(
  ctx: RequestContext,
  req: IncomingMessage,
  res: ServerResponse,
  rest: string,
  framing: RequestFraming,
): void {
  const { entry } = ctx;
  const config = ctx.core.anthropic;
  if (!config) {
    refuse(
      ctx,
      res,
      refusal(
        'not_found',
        'route-not-configured',
        'the Anthropic route is not configured on this host',
      ),
    );
    return;
  }
  entry.record.host = config.upstream.hostname;
  entry.record.port = upstreamPort(config.upstream);
  let path: string;
  let operationPath: string;
  try {
    const split = splitPathQuery(rest);
    checkSubpath(split.path);
    operationPath = split.path === '' ? '/' : split.path;
    path = `${basePath(config.upstream)}${operationPath}${split.query === null ? '' : `?${split.query}`}`;
  } catch (err) {
    if (!(err instanceof TargetRefusal)) throw err;
    refuse(ctx, res, refusal('bad_request', 'invalid-target', err.message));
    return;
  }
  const method = req.method ?? '';
  if (!isAllowedOperation(config.operations, method, operationPath)) {
    refuse(
      ctx,
      res,
      refusal(
        'not_found',
        'unknown-route',
        `the Anthropic route does not forward ${method} ${operationPath}; it forwards ${config.operations.map((op) => `${op.method} ${op.path}`).join(', ')}`,
      ),
    );
    return;
  }
  const key = config.apiKey();
  if (key === undefined || key === '') {
    refuse(
      ctx,
      res,
      refusal('unauthorized', 'no-credential', 'the host has no Anthropic API key configured'),
    );
    return;
  }
  const headers = forwardableRequestHeaders(req.rawHeaders, (name) => CLIENT_AUTH.has(name));
  headers.push('Host', config.upstream.host, 'x-api-key', key);
  headers.push(...framingHeaders(method, framing.body));
  entry.record.decision = 'allow';
  entry.record.reason = 'model-route';
  entry.record.credential = 'anthropic-api-key';
  const send = config.upstream.protocol === 'https:' ? httpsRequest : httpRequest;
  const open = (): ClientRequest => {
    const upstreamReq = send({
      protocol: config.upstream.protocol,
      hostname: upstreamHostname(config.upstream),
      port: upstreamPort(config.upstream),
      method,
      path,
      headers,
      agent: ctx.upstreams.for(config.upstream),
      setHost: false,
    });
    upstreamReq.on('socket', (socket) => {
      const note = (): void => {
        entry.record.address = socket.remoteAddress ?? null;
      };
      if (socket.remoteAddress) note();
      else socket.once('connect', note);
    });
    return upstreamReq;
  };
  relayRequest(ctx, req, res, open, (err) => {
    ctx.core.logger.warn(
      { route: 'anthropic', code: (err as NodeJS.ErrnoException).code ?? null },
      'anthropic upstream failed',
    );
  });
}
