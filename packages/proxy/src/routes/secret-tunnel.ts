import {
  Agent as HttpAgent,
  createServer,
  request as httpRequest,
  type ClientRequest,
  type ClientRequestArgs,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex, Readable } from 'node:stream';
import { TLSSocket, type SecureContext, type TLSSocketOptions } from 'node:tls';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { AuditEntry } from '../audit/audit.js';
import {
  checkFraming,
  checkHeaderCount,
  forwardableHeaders,
  forwardableRequestHeaders,
  framingHeaders,
  HeaderRefusal,
  type BodyFraming,
} from '../http/headers.js';
import {
  denial,
  headerRefusal,
  BODY_BUDGET_EXHAUSTED,
  refusal,
  secretAnswer,
  type ProxyAnswer,
} from '../http/responses.js';
import type { ProxyLimits } from '../limits/limits.js';
import type { Dialed } from '../net/dial.js';
import { STREAM_BUFFERING } from '../net/buffers.js';
import { parseAuthority, TargetRefusal, type Authority } from '../net/host.js';
import { decideHost } from '../policy/policy.js';
import { readBody } from '../http/read-body.js';
import { bodySecretsFor, substituteBody } from '../secrets/body-secrets.js';
import { PlaceholderWatch, scrubsForHost } from '../secrets/host-scrubs.js';
import { ScrubStream, scrubText } from '../secrets/scrub.js';
import { applySecrets } from '../secrets/secrets.js';
import type { Interception } from '../tls/options.js';
import { connectUpstreamTls, UpstreamTlsError } from '../tls/trust.js';
import { refuse, refuseRaw, type RequestContext } from './context.js';
import { failResponse, guarded, pipeBody, refuseUpgrades, writeUpstreamHead } from './relay.js';

/** How long a terminated tunnel's connection may sit idle between two requests. */
const KEEP_ALIVE_TIMEOUT_MS = 5_000;

/** Re-runs the destination checks for a new upstream connection; records into `entry`. */
export type Redial = (entry: AuditEntry) => Promise<Dialed | ProxyAnswer>;

function isAnswer(value: Dialed | ProxyAnswer): value is ProxyAnswer {
  return 'status' in value;
}

/**
 * Keeps one verified upstream connection per terminated tunnel: the one made when the tunnel
 * opened, then a new one (destination checked again, certificate verified again) whenever the
 * upstream closed it. Requests on one tunnel are sent one at a time, in order. Destroying the
 * agent closes every connection it holds, the first one included even when no request took it.
 */
class UpstreamAgent extends HttpAgent {
  private first: TLSSocket | null;
  private closed = false;

  constructor(
    first: TLSSocket,
    private readonly open: () => Promise<TLSSocket>,
  ) {
    super({ keepAlive: true, maxSockets: 1, maxFreeSockets: 1 });
    this.first = first;
  }

  override createConnection(
    _options: ClientRequestArgs,
    callback?: (err: Error | null, stream: Duplex) => void,
  ): Duplex | null | undefined {
    const first = this.first;
    this.first = null;
    if (first && !first.destroyed) return first;
    this.open().then(
      (socket) => {
        if (this.closed) {
          socket.destroy();
          callback?.(new Error('the tunnel closed'), undefined as unknown as Duplex);
          return;
        }
        callback?.(null, socket);
      },
      // `callback`'s stream is unused on error; Node's own agents pass undefined too.
      (err: unknown) => callback?.(err as Error, undefined as unknown as Duplex),
    );
    return undefined;
  }

  override destroy(): void {
    this.closed = true;
    this.first?.destroy();
    this.first = null;
    super.destroy();
  }
}

/**
 * Node's header and request timeouts run only for servers that listen; the per-tunnel server
 * is handed one connection instead, so they are enforced here: a request's headers must arrive
 * within `headersTimeoutMs` of the connection (or within the keep-alive time plus that of the
 * previous response) and the whole request within `requestTimeoutMs` of its headers, or the
 * connection is closed.
 */
function enforceTimeouts(
  server: Server,
  socket: TLSSocket,
  limits: ProxyLimits,
  keepAliveTimeoutMs: number,
): void {
  let timer: NodeJS.Timeout | null = null;
  const arm = (ms: number): void => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => socket.destroy(), ms);
    timer.unref();
  };
  const disarm = (): void => {
    if (timer) clearTimeout(timer);
    timer = null;
  };
  socket.once('secure', () => arm(limits.headersTimeoutMs));
  socket.once('close', disarm);
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    arm(limits.requestTimeoutMs);
    req.once('end', disarm);
    // The next request may wait for the keep-alive time, then has the header time.
    res.once('finish', () => {
      if (!socket.destroyed) arm(keepAliveTimeoutMs + limits.headersTimeoutMs);
    });
  });
}

/**
 * The terminating path of a CONNECT to a host some secret of the workspace is bound to: verified
 * TLS to the upstream first (a certificate error refuses the CONNECT with a clear message), then
 * `200`, then TLS toward the container with a certificate the Workcell CA issues for exactly the
 * CONNECT host, and an HTTP/1.1 server on the decrypted stream. Each request inside is decided
 * again (policy, Host, placeholders), recorded on its own (`route: tls`), and relayed with its
 * placeholders replaced and every value bound to the host scrubbed from the response.
 */
export async function interceptTunnel(
  ctx: RequestContext,
  interception: Interception,
  client: Duplex,
  head: Buffer,
  target: Authority,
  admitted: Dialed,
  redial: Redial,
): Promise<void> {
  const { entry, core } = ctx;
  const host = target.host.value;
  let upstream: TLSSocket;
  let context: SecureContext;
  try {
    upstream = await connectUpstreamTls(
      admitted.socket,
      host,
      target.port,
      interception.upstreamTrust,
      interception.handshakeTimeoutMs,
    );
  } catch (err) {
    admitted.socket.destroy();
    if (!(err instanceof UpstreamTlsError)) throw err;
    core.logger.warn({ host, port: target.port, code: err.code }, 'upstream certificate refused');
    refuseRaw(ctx, client, refusal('upstream_tls_failed', 'upstream-tls-failed', err.message));
    return;
  }
  try {
    context = await interception.minter.contextFor(host);
  } catch (err) {
    upstream.destroy();
    throw err;
  }
  if (client.destroyed) {
    upstream.destroy();
    return;
  }
  entry.record.decision = 'allow';
  entry.record.reason = 'intercepted';
  entry.record.status = 200;

  const openUpstream = async (): Promise<TLSSocket> => {
    const sub = new AuditEntry(ctx.identity, 'CONNECT', 'connect', core.clock, () => undefined);
    const dialed = await redial(sub);
    if (isAnswer(dialed)) throw new Error(dialed.message);
    return connectUpstreamTls(
      dialed.socket,
      host,
      target.port,
      interception.upstreamTrust,
      interception.handshakeTimeoutMs,
    );
  };
  const agent = new UpstreamAgent(upstream, openUpstream);

  const server = createServer({
    insecureHTTPParser: false,
    requireHostHeader: false,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
  });
  // As on the listener: one more than the cap, so a request past it is seen and refused.
  server.maxHeadersCount = core.limits.maxHeaderCount + 1;
  server.on('request', (req: IncomingMessage, res: ServerResponse) =>
    handleRequest(ctx, req, res, target, admitted.address.text, agent),
  );
  server.on('clientError', (_err, socket: Duplex) => socket.destroy());

  client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
  if (head.length > 0) (client as Socket).unshift(head);
  // The tunnel's HTTP server has no sockets of its own: its requests and responses buffer what
  // this socket does.
  const options: TLSSocketOptions = {
    ...STREAM_BUFFERING,
    isServer: true,
    secureContext: context,
    ALPNProtocols: ['http/1.1'],
  };
  const tls = new TLSSocket(client as Socket, options);
  const handshake = setTimeout(() => tls.destroy(), interception.handshakeTimeoutMs);
  tls.once('secure', () => clearTimeout(handshake));
  tls.on('error', () => tls.destroy());
  tls.once('close', () => {
    clearTimeout(handshake);
    agent.destroy();
    client.destroy();
  });
  client.once('close', () => {
    agent.destroy();
    tls.destroy();
  });
  enforceTimeouts(server, tls, core.limits, KEEP_ALIVE_TIMEOUT_MS);
  server.emit('connection', tls);
}

function checkRequest(
  req: IncomingMessage,
  target: Authority,
  maxHeaderCount: number,
): { answer: ProxyAnswer } | { body: BodyFraming } {
  try {
    if (req.httpVersionMajor !== 1)
      return { answer: refusal('bad_request', 'malformed-request', 'only HTTP/1.x is accepted') };
    checkHeaderCount(req.rawHeaders, maxHeaderCount);
    const framing = checkFraming(req.rawHeaders, req.method ?? '');
    if (framing.host === null) {
      if (req.httpVersionMinor >= 1)
        return {
          answer: refusal(
            'bad_request',
            'malformed-request',
            'an HTTP/1.1 request needs a Host header',
          ),
        };
    } else {
      const stated = parseAuthority(framing.host, 443);
      const port = /:\d+$/.test(framing.host) ? stated.port : target.port;
      if (stated.host.value !== target.host.value || port !== target.port)
        return {
          answer: refusal(
            'bad_request',
            'host-mismatch',
            'the Host header does not match the tunnel',
          ),
        };
    }
    if (!(req.url ?? '').startsWith('/'))
      return {
        answer: refusal('bad_request', 'malformed-request', 'requests in a tunnel are origin-form'),
      };
    return { body: framing.body };
  } catch (err) {
    if (err instanceof HeaderRefusal) return { answer: headerRefusal(err) };
    if (err instanceof TargetRefusal)
      return { answer: refusal('bad_request', 'malformed-request', err.message) };
    throw err;
  }
}

type Decoder = () => NodeJS.ReadWriteStream;

const DECODERS: Record<string, Decoder> = {
  gzip: createGunzip,
  'x-gzip': createGunzip,
  deflate: createInflate,
  br: createBrotliDecompress,
};

/**
 * The decoders that undo a response's `Content-Encoding` (last applied, first undone), or the
 * coding the proxy cannot read. Toward a secret host the proxy asks for `identity`; a body that
 * comes encoded anyway is decoded so the scrubber reads it, and goes out without an encoding.
 */
function decodersFor(rawHeaders: readonly string[]): Decoder[] | { unknown: string } {
  const codings: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if ((rawHeaders[i] ?? '').toLowerCase() !== 'content-encoding') continue;
    for (const token of (rawHeaders[i + 1] ?? '').split(',')) {
      const coding = token.trim().toLowerCase();
      if (coding !== '' && coding !== 'identity') codings.push(coding);
    }
  }
  const decoders: Decoder[] = [];
  for (const coding of codings.reverse()) {
    const decoder = DECODERS[coding];
    if (!decoder) return { unknown: coding };
    decoders.push(decoder);
  }
  return decoders;
}

const NO_BODY_STATUS = new Set([204, 304]);

function handleRequest(
  ctx: RequestContext,
  req: IncomingMessage,
  res: ServerResponse,
  target: Authority,
  address: string,
  agent: HttpAgent,
): void {
  const { core } = ctx;
  const entry = new AuditEntry(
    ctx.identity,
    req.method ?? 'UNKNOWN',
    'tls',
    core.clock,
    core.audit,
  );
  const inner: RequestContext = { ...ctx, entry };
  entry.record.host = target.host.value;
  entry.record.port = target.port;
  entry.record.address = address;
  res.once('close', () => entry.emit());
  let upstreamReq: ClientRequest | null = null;
  const track = (sent: ClientRequest): void => {
    upstreamReq = sent;
  };
  const fail = (): void => {
    upstreamReq?.destroy();
    failResponse(
      inner,
      res,
      refusal('internal', 'internal-error', 'the proxy failed to handle the request'),
    );
  };
  guarded(inner, fail, () => {
    forward(inner, req, res, target, agent, fail, track);
  })();
}

/**
 * Reads a body some secret's value is written into: whole (up to the limit, from the host-wide
 * budget), so a placeholder split across chunks is found; answers it with its placeholders
 * replaced, or null after refusing the request (413 past the limit, 503 when the budget is
 * spent, 502 when a value cannot be read). The caller releases `reserved` bytes once sent.
 */
async function substitutedBody(
  ctx: RequestContext,
  req: IncomingMessage,
  res: ServerResponse,
  secrets: ReturnType<typeof bodySecretsFor>,
  watch: PlaceholderWatch,
): Promise<{ body: Buffer; reserved: number } | null> {
  const { core, entry } = ctx;
  const max = core.limits.maxSecretBodyBytes;
  const tooLarge = refusal(
    'payload_too_large',
    'body-too-large',
    `the request body exceeds ${max} bytes, the most a secret's value is written into; it was not sent`,
  );
  if (Number(req.headers['content-length'] ?? '0') > max) {
    refuse(ctx, res, tooLarge);
    return null;
  }
  const read = await readBody(req, max, core.bodies, (n) => {
    entry.record.bytesOut += n;
  });
  if (!read.ok) {
    if (read.reason === 'body-too-large') refuse(ctx, res, tooLarge);
    else if (read.reason === 'body-budget-exhausted') refuse(ctx, res, BODY_BUDGET_EXHAUSTED);
    else res.destroy();
    return null;
  }
  watch.feed(read.body);
  const done = substituteBody(read.body, secrets);
  if (!done.ok) {
    core.bodies.release(read.body.length);
    refuse(
      ctx,
      res,
      secretAnswer(
        'secret-unusable',
        `the stored value of secret "${done.secret}" cannot be read; the request was not sent`,
      ),
    );
    return null;
  }
  entry.record.secrets = [...new Set([...entry.record.secrets, ...done.used])];
  return { body: done.body, reserved: read.body.length };
}

/** Decides and sends one request of a terminated tunnel; `track` receives the upstream request. */
function forward(
  ctx: RequestContext,
  req: IncomingMessage,
  res: ServerResponse,
  target: Authority,
  agent: HttpAgent,
  fail: () => void,
  track: (sent: ClientRequest) => void,
): void {
  const { core, entry } = ctx;
  const host = target.host.value;
  const checked = checkRequest(req, target, core.limits.maxHeaderCount);
  if ('answer' in checked) {
    refuse(ctx, res, checked.answer);
    return;
  }
  const decision = decideHost(ctx.policy(), target.host, target.port, 'connect');
  entry.record.rule = decision.rule;
  if (!decision.allowed) {
    refuse(ctx, res, denial(decision.reason, decision.message));
    return;
  }
  const secrets = ctx.secrets();
  const applied = applySecrets(
    secrets,
    { kind: 'tls', host },
    req.url ?? '/',
    forwardableRequestHeaders(req.rawHeaders, (name) => name === 'accept-encoding'),
  );
  if (!applied.ok) {
    entry.record.secrets = [applied.secret];
    core.logger.warn(
      {
        workspaceId: ctx.identity.workspaceId,
        host,
        secret: applied.secret,
        reason: applied.reason,
      },
      'secret placeholder refused',
    );
    refuse(ctx, res, secretAnswer(applied.reason, applied.message));
    return;
  }
  entry.record.secrets = applied.used;
  entry.record.suspected = [...applied.suspected];
  entry.record.decision = 'allow';
  entry.record.reason = 'allowed';
  ctx.produced.add(host, applied.produced);
  const headers = applied.headers;
  headers.push('Accept-Encoding', 'identity');
  const scrubs = scrubsForHost(secrets, host, ctx.produced);
  const bodySecrets = checked.body.kind === 'none' ? [] : bodySecretsFor(secrets, host);
  // A placeholder this request's body has replaced is not a suspect; any other one is.
  const watch = new PlaceholderWatch(secrets.filter((s) => !bodySecrets.includes(s)));
  const send = (body: { body: Buffer; reserved: number } | null): void => {
    headers.push(
      ...(body
        ? ['Content-Length', String(body.body.length)]
        : framingHeaders(req.method ?? '', checked.body)),
    );
    track(relay(ctx, req, res, target, agent, fail, { headers, scrubs, watch, body }));
  };
  if (bodySecrets.length === 0) {
    send(null);
    return;
  }
  substitutedBody(ctx, req, res, bodySecrets, watch).then(
    guarded(ctx, fail, (body: { body: Buffer; reserved: number } | null) => {
      if (!body) return;
      // The container may have gone while the body was read: nothing is sent for nobody.
      if (res.destroyed) core.bodies.release(body.reserved);
      else send(body);
    }),
    guarded(ctx, fail, (err: unknown) => {
      throw err;
    }),
  );
}

/**
 * Sends the decided request upstream and relays the answer, every value bound to the host
 * scrubbed from it. The body is `body` when one was read and rewritten, else the request's own,
 * streamed as it arrives.
 */
function relay(
  ctx: RequestContext,
  req: IncomingMessage,
  res: ServerResponse,
  target: Authority,
  agent: HttpAgent,
  fail: () => void,
  out: {
    headers: string[];
    scrubs: ReturnType<typeof scrubsForHost>;
    watch: PlaceholderWatch;
    body: { body: Buffer; reserved: number } | null;
  },
): ClientRequest {
  const { core, entry } = ctx;
  const host = target.host.value;
  const { headers, scrubs, watch, body } = out;
  const upstreamReq = httpRequest({
    method: req.method,
    path: req.url,
    headers,
    setHost: false,
    agent,
  });
  upstreamReq.on(
    'response',
    guarded(ctx, fail, (upstream: IncomingMessage) => {
      upstream.on('error', () => res.destroy());
      const decoders = decodersFor(upstream.rawHeaders);
      if (!Array.isArray(decoders)) {
        upstream.destroy();
        failResponse(
          ctx,
          res,
          refusal(
            'upstream_invalid_response',
            'upstream-invalid-response',
            `the upstream answered with content coding "${decoders.unknown}", which the proxy cannot read to keep secret values out; the response was not relayed`,
          ),
        );
        return;
      }
      // The body may change length (scrubbed, decoded): it goes out chunked, unencoded.
      const out = forwardableHeaders(
        upstream.rawHeaders,
        (name) => name === 'content-length' || name === 'content-encoding',
      ).map((v) => scrubText(v, scrubs));
      if (!writeUpstreamHead(ctx, upstream, res, out)) return;
      const bodiless = req.method === 'HEAD' || NO_BODY_STATUS.has(upstream.statusCode ?? 0);
      let body: Readable = upstream;
      if (!bodiless) {
        for (const decoder of decoders) {
          const next = decoder();
          next.on('error', () => res.destroy());
          body = body.pipe(next) as unknown as Readable;
        }
        if (scrubs.length > 0) body = body.pipe(new ScrubStream(scrubs));
      }
      pipeBody(ctx, upstream, body, res);
    }),
  );
  refuseUpgrades(ctx, upstreamReq, res, fail);
  upstreamReq.on(
    'error',
    guarded(ctx, fail, (err: Error) => {
      core.logger.warn(
        { host, port: target.port, error: err.message },
        'secret host upstream failed',
      );
      failResponse(
        ctx,
        res,
        err instanceof UpstreamTlsError
          ? refusal('upstream_tls_failed', 'upstream-tls-failed', err.message)
          : refusal('dependency_unavailable', 'upstream-failed', 'the upstream did not answer'),
      );
    }),
  );
  res.on('close', () => {
    if (!res.writableFinished) upstreamReq.destroy();
  });
  if (body) {
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      core.bodies.release(body.reserved);
    };
    upstreamReq.once('finish', release);
    upstreamReq.once('close', release);
    entry.record.suspected.push(...watch.suspects());
    upstreamReq.end(body.body);
    return upstreamReq;
  }
  req.on('data', (chunk: Buffer) => {
    entry.record.bytesOut += chunk.length;
    watch.feed(chunk);
  });
  req.once('end', () => {
    entry.record.suspected.push(...watch.suspects());
  });
  req.pipe(upstreamReq);
  return upstreamReq;
}
