import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { refuse, refuseRaw, type RequestContext } from './context.js';
import {
  checkFraming,
  checkHeaderCount,
  forwardableRequestHeaders,
  framingHeaders,
  HeaderRefusal,
  type RequestFraming,
} from '../http/headers.js';
import { relayRequest } from './relay.js';
import { denial, headerRefusal, refusal, type ProxyAnswer } from '../http/responses.js';
import { parseAbsoluteTarget } from '../http/targets.js';
import { dialChecked, type Dialed } from '../net/dial.js';
import { parseAuthority, TargetRefusal, type Authority } from '../net/host.js';
import { resolveChecked } from '../net/resolve.js';
import { DEFAULT_PORT, type Transport } from '../policy/patterns.js';
import { decideHost } from '../policy/policy.js';
import { RETRY_AFTER_SECONDS } from '../limits/limits.js';
import type { OpenTunnel } from './tunnels.js';
import { refuseSecretsOutsideTls, watchBody } from './plain-secrets.js';
import { isBoundHost } from '../secrets/secrets.js';
import { interceptTunnel } from './secret-tunnel.js';

function badRequest(err: unknown): ProxyAnswer {
  if (err instanceof TargetRefusal) return refusal('bad_request', 'invalid-target', err.message);
  if (err instanceof HeaderRefusal) return headerRefusal(err);
  throw err;
}

/** The Host header, when present, must name the request target (same canonical host and port). */
function checkHostHeader(
  target: Authority,
  hostHeader: string | null,
  transport: Transport,
): ProxyAnswer | null {
  if (hostHeader === null) return null;
  let stated: Authority;
  try {
    stated = parseAuthority(hostHeader, DEFAULT_PORT[transport]);
  } catch (err) {
    return badRequest(err);
  }
  if (stated.host.value === target.host.value && stated.port === target.port) return null;
  return refusal(
    'bad_request',
    'host-mismatch',
    'the Host header does not match the request target',
  );
}

/**
 * The decision for one destination: host patterns (deny first, default deny), then resolution and
 * the address check. Returns the connected socket to exactly a checked address, or the answer.
 */
async function admit(
  ctx: RequestContext,
  target: Authority,
  transport: Transport,
): Promise<Dialed | ProxyAnswer> {
  const { record } = ctx.entry;
  record.host = target.host.value;
  record.port = target.port;
  const policy = ctx.policy();
  const decision = decideHost(policy, target.host, target.port, transport);
  if (!decision.allowed) {
    record.rule = decision.rule;
    return denial(decision.reason, decision.message);
  }
  record.rule = decision.rule;
  const check = await resolveChecked(target.host, policy, ctx.core.resolve);
  if (!check.ok) {
    record.address = check.address;
    return denial(check.reason, `${check.message} (allowed by rule "${decision.rule}")`);
  }
  try {
    const dialed = await dialChecked(check.addresses, target.port, ctx.core.dialTimeoutMs);
    record.address = dialed.address.text;
    return dialed;
  } catch (err) {
    record.address = check.addresses[0]?.text ?? null;
    ctx.core.logger.warn(
      {
        host: target.host.value,
        port: target.port,
        code: (err as NodeJS.ErrnoException).code ?? null,
      },
      'egress dial failed',
    );
    return refusal(
      'dependency_unavailable',
      'connect-failed',
      `could not connect to ${target.host.value}:${target.port}`,
    );
  }
}

function isAnswer(value: Dialed | ProxyAnswer): value is ProxyAnswer {
  return 'status' in value;
}

/**
 * An absolute-form plain HTTP request (`GET http://host/...`) to an allowed host: Host must match
 * the target, hop-by-hop and Proxy-* headers go, and the request is sent in origin-form over a
 * fresh connection to the checked address. Each request on a kept-alive socket comes here anew.
 */
export async function forwardAbsolute(
  ctx: RequestContext,
  req: IncomingMessage,
  res: ServerResponse,
  framing: RequestFraming,
): Promise<void> {
  let target: Authority;
  let authority: string;
  let pathAndQuery: string;
  try {
    ({ authority, pathAndQuery } = parseAbsoluteTarget(req.url ?? ''));
    target = parseAuthority(authority, DEFAULT_PORT.http);
  } catch (err) {
    refuse(ctx, res, badRequest(err));
    return;
  }
  ctx.entry.record.host = target.host.value;
  ctx.entry.record.port = target.port;
  const mismatch = checkHostHeader(target, framing.host, 'http');
  if (mismatch) {
    refuse(ctx, res, mismatch);
    return;
  }
  const placeholder = refuseSecretsOutsideTls(ctx, target.host.value, req);
  if (placeholder) {
    refuse(ctx, res, placeholder);
    return;
  }
  const admitted = await admit(ctx, target, 'http');
  if (isAnswer(admitted)) {
    refuse(ctx, res, admitted);
    return;
  }
  if (res.destroyed) {
    admitted.socket.destroy();
    return;
  }
  ctx.entry.record.decision = 'allow';
  ctx.entry.record.reason = 'allowed';
  const headers = forwardableRequestHeaders(req.rawHeaders);
  if (framing.host === null) headers.push('Host', authority);
  headers.push(...framingHeaders(req.method ?? '', framing.body));
  const upstreamReq = httpRequest({
    method: req.method,
    path: pathAndQuery,
    headers,
    setHost: false,
    createConnection: () => admitted.socket,
  });
  // The connection serves this one exchange: it closes when the container's response does.
  res.once('close', () => admitted.socket.destroy());
  watchBody(ctx, req);
  relayRequest(
    ctx,
    req,
    res,
    () => upstreamReq,
    (err) => {
      ctx.core.logger.warn(
        {
          host: target.host.value,
          port: target.port,
          code: (err as NodeJS.ErrnoException).code ?? null,
        },
        'egress upstream failed',
      );
    },
  );
}

/**
 * A CONNECT tunnel to an allowed host: after the checks the proxy answers 200 and relays bytes
 * both ways, opaque (no TLS interception). The record is emitted when the container side closes.
 */
export async function openTunnel(
  ctx: RequestContext,
  req: IncomingMessage,
  client: Duplex,
  head: Buffer,
): Promise<void> {
  const { entry } = ctx;
  client.on('error', () => client.destroy());
  client.once('close', () => entry.emit());
  let target: Authority;
  let framing: RequestFraming;
  try {
    checkHeaderCount(req.rawHeaders, ctx.core.limits.maxHeaderCount);
    framing = checkFraming(req.rawHeaders, 'CONNECT');
    target = parseAuthority(req.url ?? '', null);
  } catch (err) {
    refuseRaw(ctx, client, badRequest(err));
    return;
  }
  entry.record.host = target.host.value;
  entry.record.port = target.port;
  const mismatch = checkHostHeader(target, framing.host, 'connect');
  if (mismatch) {
    refuseRaw(ctx, client, mismatch);
    return;
  }
  const admitted = await admit(ctx, target, 'connect');
  if (isAnswer(admitted)) {
    refuseRaw(ctx, client, admitted);
    return;
  }
  const upstream: Socket = admitted.socket;
  if (client.destroyed) {
    upstream.destroy();
    return;
  }
  const tunnel: OpenTunnel = {
    target,
    close: () => {
      client.destroy();
      upstream.destroy();
    },
  };
  if (!ctx.tunnels.tryAdd(tunnel)) {
    upstream.destroy();
    refuseRaw(
      ctx,
      client,
      refusal(
        'proxy_at_capacity',
        'tunnel-limit',
        `this workspace already has ${ctx.core.limits.maxTunnelsPerListener} tunnels open`,
        RETRY_AFTER_SECONDS,
      ),
    );
    return;
  }
  client.once('close', () => ctx.tunnels.delete(tunnel));
  // No byte either way for the idle time ends the tunnel (each relayed byte touches `client`).
  if (client instanceof Socket) {
    client.setTimeout(ctx.core.limits.tunnelIdleTimeoutMs, () => tunnel.close());
  }
  const { interception } = ctx.core;
  if (interception && isBoundHost(ctx.secrets(), target.host.value)) {
    await interceptTunnel(ctx, interception, client, head, target, admitted, (sub) =>
      admit({ ...ctx, entry: sub }, target, 'connect'),
    );
    return;
  }
  entry.record.decision = 'allow';
  entry.record.reason = 'allowed';
  entry.record.status = 200;
  // An end travels on through the pipes (each side flushes what it holds before its FIN); an
  // error, or the container side closing, tears both down.
  upstream.on('error', () => client.destroy());
  upstream.on('close', (hadError) => {
    if (hadError) client.destroy();
  });
  client.on('close', () => upstream.destroy());
  upstream.on('data', (chunk: Buffer) => {
    entry.record.bytesIn += chunk.length;
  });
  client.on('data', (chunk: Buffer) => {
    entry.record.bytesOut += chunk.length;
  });
  client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
  if (head.length > 0) {
    entry.record.bytesOut += head.length;
    upstream.write(head);
  }
  upstream.pipe(client);
  client.pipe(upstream);
}
