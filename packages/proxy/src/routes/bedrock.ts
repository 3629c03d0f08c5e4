import {
  request as httpRequest,
  type ClientRequest,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { request as httpsRequest } from 'node:https';
import { refuse, type RequestContext } from './context.js';
import { forwardableHeaders, headerObject } from '../http/headers.js';
import { readBody } from '../http/read-body.js';
import { wireUpstream } from './relay.js';
import { BODY_BUDGET_EXHAUSTED, refusal } from '../http/responses.js';
import { basePath, splitPathQuery, upstreamHostname, upstreamPort } from '../http/targets.js';
import { TargetRefusal } from '../net/host.js';

/** The Bedrock runtime operations the route forwards (POST /model/<id>/<action>). */
const ACTIONS = new Set(['invoke', 'invoke-with-response-stream', 'count-tokens']);

/** The read-only listing the CLI asks its Bedrock base URL for at start (GET). */
const INFERENCE_PROFILES = '/inference-profiles';

/** Model ids (`anthropic.claude-...-v1:0`) and inference-profile ARNs (with `:` and `/`). */
const MODEL_ID = /^[A-Za-z0-9._:/-]{1,2048}$/;

/** Dropped from the client: host, any client auth, and every SigV4 signing header. */
function dropClientHeader(name: string): boolean {
  return (
    name === 'host' ||
    name === 'authorization' ||
    name === 'x-api-key' ||
    name === 'content-length' ||
    name.startsWith('x-amz-')
  );
}

/** RFC 3986 escaping as SigV4 canonicalises query components. */
function escapeUri(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/**
 * Parses a query string into decoded parameters, refusing presigning (any `X-Amz-*` parameter).
 * The forwarded query is re-encoded from these values, so what is signed is what is sent.
 */
function parseQuery(query: string | null): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = Object.create(null) as Record<
    string,
    string | string[]
  >;
  if (query === null || query === '') return out;
  for (const pair of query.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    let key: string;
    let value: string;
    try {
      key = decodeURIComponent(eq < 0 ? pair : pair.slice(0, eq));
      value = decodeURIComponent(eq < 0 ? '' : pair.slice(eq + 1));
    } catch {
      throw new TargetRefusal('the query has malformed percent-encoding');
    }
    if (key.toLowerCase().startsWith('x-amz-'))
      throw new TargetRefusal('presigned or signing query parameters are refused');
    const existing = out[key];
    out[key] =
      existing === undefined
        ? value
        : [...(Array.isArray(existing) ? existing : [existing]), value];
  }
  return out;
}

function formatQuery(query: Record<string, string | string[]>): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(query)) {
    for (const v of Array.isArray(value) ? value : [value])
      parts.push(`${escapeUri(key)}=${escapeUri(v)}`);
  }
  return parts.length === 0 ? '' : `?${parts.join('&')}`;
}

interface BedrockTarget {
  readonly method: 'POST' | 'GET';
  readonly path: string;
  readonly query: Record<string, string | string[]>;
}

/**
 * `/model/<id>/<action>[?query]` (POST) or `/inference-profiles[?query]` (GET) to the path
 * forwarded and signed; null for any other route.
 */
function parseTarget(rest: string, base: string): BedrockTarget | null {
  const { path, query } = splitPathQuery(rest);
  if (path === INFERENCE_PROFILES)
    return { method: 'GET', path: `${base}${INFERENCE_PROFILES}`, query: parseQuery(query) };
  const match = /^\/model\/([^/]+)\/([a-z-]+)$/.exec(path);
  if (!match || !ACTIONS.has(match[2] ?? '')) return null;
  let model: string;
  try {
    model = decodeURIComponent(match[1] ?? '');
  } catch {
    throw new TargetRefusal('the model id has malformed percent-encoding');
  }
  if (!MODEL_ID.test(model) || model.split('/').some((s) => s === '.' || s === '..' || s === '')) {
    throw new TargetRefusal('invalid model id');
  }
  return {
    method: 'POST',
    path: `${base}/model/${encodeURIComponent(model)}/${match[2] ?? ''}`,
    query: parseQuery(query),
  };
}

/**
 * `/_workcell/bedrock/*` to the Bedrock upstream: client auth and signing headers are
 * dropped, presigned queries refused, the body read (up to the cap, 413 beyond) and the request
 * signed with SigV4 (service `bedrock`, the host's credentials, session token included) over
 * exactly the path, query, headers and body forwarded. The response (an AWS event stream for
 * `invoke-with-response-stream`) passes through byte for byte as it arrives.
 */
export async function forwardBedrock(
  ctx: RequestContext,
  req: IncomingMessage,
  res: ServerResponse,
  rest: string,
): Promise<void> {
  const { entry } = ctx;
  const config = ctx.core.bedrock;
  if (!config) {
    refuse(
      ctx,
      res,
      refusal(
        'not_found',
        'route-not-configured',
        'the Bedrock route is not configured on this host',
      ),
    );
    return;
  }
  entry.record.host = config.upstream.hostname;
  entry.record.port = upstreamPort(config.upstream);
  let target: BedrockTarget | null;
  try {
    target = parseTarget(rest, basePath(config.upstream));
  } catch (err) {
    if (!(err instanceof TargetRefusal)) throw err;
    refuse(ctx, res, refusal('bad_request', 'invalid-target', err.message));
    return;
  }
  if (!target) {
    refuse(
      ctx,
      res,
      refusal(
        'not_found',
        'unknown-route',
        'the Bedrock route forwards only POST /model/<id>/invoke, invoke-with-response-stream, count-tokens and GET /inference-profiles',
      ),
    );
    return;
  }
  if (req.method !== target.method) {
    refuse(
      ctx,
      res,
      refusal(
        'method_not_allowed',
        'method-not-allowed',
        `this Bedrock operation is ${target.method}`,
      ),
    );
    return;
  }
  const declared = Number(req.headers['content-length'] ?? '0');
  const tooLarge = refusal(
    'payload_too_large',
    'body-too-large',
    `the request body exceeds ${config.maxBodyBytes} bytes`,
  );
  if (declared > config.maxBodyBytes) {
    refuse(ctx, res, tooLarge);
    return;
  }
  const budget = ctx.core.bodies;
  const read = await readBody(req, config.maxBodyBytes, budget, (n) => {
    entry.record.bytesOut += n;
  });
  if (!read.ok) {
    if (read.reason === 'body-too-large') refuse(ctx, res, tooLarge);
    else if (read.reason === 'body-budget-exhausted') {
      ctx.core.logger.warn(
        {
          workspaceId: ctx.identity.workspaceId,
          inUse: budget.inUse,
          capacity: budget.capacityBytes,
        },
        'request body budget exhausted',
      );
      refuse(ctx, res, BODY_BUDGET_EXHAUSTED);
    } else res.destroy();
    return;
  }
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    budget.release(read.body.length);
  };
  res.once('close', release);
  const headers = headerObject(forwardableHeaders(req.rawHeaders, dropClientHeader));
  headers.host = config.upstream.host;
  headers['content-length'] = String(read.body.length);
  let signed: { headers: Record<string, string> };
  try {
    signed = await config.signer.sign({
      method: target.method,
      protocol: config.upstream.protocol,
      hostname: upstreamHostname(config.upstream),
      port: upstreamPort(config.upstream),
      path: target.path,
      query: target.query,
      headers,
      body: read.body,
    });
  } catch (err) {
    ctx.core.logger.warn(
      { route: 'bedrock', error: err instanceof Error ? err.name : 'unknown' },
      'AWS credentials unavailable',
    );
    refuse(
      ctx,
      res,
      refusal(
        'dependency_unavailable',
        'no-credential',
        'the host could not obtain AWS credentials',
      ),
    );
    return;
  }
  entry.record.decision = 'allow';
  entry.record.reason = 'model-route';
  entry.record.credential = 'aws-sigv4';
  const send = config.upstream.protocol === 'https:' ? httpsRequest : httpRequest;
  const open = (): ClientRequest => {
    const upstreamReq = send({
      protocol: config.upstream.protocol,
      hostname: upstreamHostname(config.upstream),
      port: upstreamPort(config.upstream),
      method: target.method,
      path: `${target.path}${formatQuery(target.query)}`,
      headers: signed.headers,
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
  const onUpstreamError = (err: Error): void => {
    ctx.core.logger.warn(
      { route: 'bedrock', code: (err as NodeJS.ErrnoException).code ?? null },
      'bedrock upstream failed',
    );
  };
  // The budget is released once the first try has sent the body (or failed); a second try,
  // which is rare, sends the same buffer without counting it again.
  const sendBody = (upstreamReq: ClientRequest): void => {
    upstreamReq.once('close', release);
    upstreamReq.end(read.body, release);
  };
  const first = open();
  // The body is in memory: a request that met a stale kept-alive connection is sent again.
  wireUpstream(ctx, res, first, onUpstreamError, undefined, () => {
    const again = open();
    wireUpstream(ctx, res, again, onUpstreamError);
    sendBody(again);
    return true;
  });
  sendBody(first);
}
