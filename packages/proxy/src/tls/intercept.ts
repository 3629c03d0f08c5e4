import {
  Agent as HttpAgent,
  createServer,
  request as httpRequest,
  type ClientRequestArgs,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { TLSSocket, type SecureContext } from 'node:tls';
import { AuditEntry } from '../audit.js';
import { refuse, refuseRaw, type RequestContext } from '../context.js';
import {
  checkFraming,
  checkHeaderCount,
  forwardableHeaders,
  forwardableRequestHeaders,
  framingHeaders,
  HeaderRefusal,
  type BodyFraming,
} from '../http/headers.js';
import { denial, headerRefusal, refusal, type ProxyAnswer } from '../http/responses.js';
import type { Dialed } from '../net/dial.js';
import { parseAuthority, TargetRefusal, type Authority } from '../net/host.js';
import { decideHost } from '../policy/policy.js';
import { ScrubStream, scrubText, type Scrub } from '../secrets/scrub.js';
import { applySecrets, type SecretBinding } from '../secrets/secrets.js';
import type { CertificateMinter } from './minter.js';
import { connectUpstreamTls, UpstreamTlsError } from './trust.js';

/** What the proxy needs to terminate TLS for secret hosts; absent, every tunnel stays opaque. */
export interface Interception {
  readonly minter: CertificateMinter;
  /** The roots upstream certificates must chain to (`loadUpstreamTrust`). */
  readonly upstreamTrust: SecureContext;
  readonly handshakeTimeoutMs: number;
}

/** Re-runs the destination checks for a new upstream connection; records into `entry`. */
export type Redial = (entry: AuditEntry) => Promise<Dialed | ProxyAnswer>;

function isAnswer(value: Dialed | ProxyAnswer): value is ProxyAnswer {
  return 'status' in value;
}

/**
 * Keeps one verified upstream connection per terminated tunnel: the one made when the tunnel
 * opened, then a new one (destination checked again, certificate verified again) whenever the
 * upstream closed it. Requests on one tunnel are sent one at a time, in order.
 */
class UpstreamAgent extends HttpAgent {
  private first: TLSSocket | null;

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
      (socket) => callback?.(null, socket),
      (err: unknown) => callback?.(err as Error, undefined as unknown as Duplex),
    );
    return undefined;
  }
}

/**
 * The terminating path of a CONNECT to a host some secret of the workspace is bound to: verified
 * TLS to the upstream first (a certificate error refuses the CONNECT with a clear message), then
 * `200`, then TLS toward the container with a certificate the Workcell CA issues for exactly the
 * CONNECT host, and an HTTP/1.1 server on the decrypted stream. Each request inside is decided
 * again (policy, Host, placeholders), recorded on its own (`route: tls`), and relayed with its
 * placeholders replaced and the values scrubbed from the response.
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
    context = await interception.minter.contextFor(host);
  } catch (err) {
    admitted.socket.destroy();
    if (!(err instanceof UpstreamTlsError)) throw err;
    core.logger.warn({ host, port: target.port, code: err.code }, 'upstream certificate refused');
    refuseRaw(ctx, client, refusal('upstream_tls_failed', 'upstream-tls-failed', err.message));
    return;
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
    keepAliveTimeout: 5_000,
    headersTimeout: ctx.core.limits.headersTimeoutMs,
    requestTimeout: ctx.core.limits.requestTimeoutMs,
  });
  // As on the listener: one more than the cap, so a request past it is seen and refused.
  server.maxHeadersCount = ctx.core.limits.maxHeaderCount + 1;
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    handleRequest(ctx, req, res, target, admitted.address.text, agent);
  });
  server.on('clientError', (_err, socket: Duplex) => socket.destroy());

  client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
  if (head.length > 0) (client as Socket).unshift(head);
  const tls = new TLSSocket(client as Socket, {
    isServer: true,
    secureContext: context,
    ALPNProtocols: ['http/1.1'],
  });
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
  server.emit('connection', tls);
}

function checkRequest(
  req: IncomingMessage,
  target: Authority,
  maxHeaderCount: number,
): { answer: ProxyAnswer } | { body: BodyFraming } {
  try {
    checkHeaderCount(req.rawHeaders, maxHeaderCount);
    const framing = checkFraming(req.rawHeaders, req.method ?? '');
    if (framing.host !== null) {
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

  const checked = checkRequest(req, target, core.limits.maxHeaderCount);
  if ('answer' in checked) {
    refuse(inner, res, checked.answer);
    return;
  }
  const decision = decideHost(ctx.policy(), target.host, target.port, 'connect');
  entry.record.rule = decision.rule;
  if (!decision.allowed) {
    refuse(inner, res, denial(decision.reason, decision.message));
    return;
  }
  const secrets = ctx.secrets();
  const applied = applySecrets(
    secrets,
    { kind: 'tls', host: target.host.value },
    req.url ?? '/',
    forwardableRequestHeaders(req.rawHeaders),
  );
  if (!applied.ok) {
    entry.record.secrets = [applied.secret];
    core.logger.warn(
      { workspaceId: ctx.identity.workspaceId, host: target.host.value, secret: applied.secret },
      'secret placeholder refused',
    );
    refuse(inner, res, denial(applied.reason, applied.message));
    return;
  }
  entry.record.secrets = applied.used;
  entry.record.decision = 'allow';
  entry.record.reason = 'allowed';
  const headers = applied.headers;
  headers.push(...framingHeaders(req.method ?? '', checked.body));
  const scrubs = scrubsFor(secrets, applied.used);

  const upstreamReq = httpRequest({
    method: req.method,
    path: req.url,
    headers,
    setHost: false,
    agent,
  });
  upstreamReq.on('response', (upstream) => {
    const status = upstream.statusCode ?? 502;
    entry.record.status = status;
    let out = forwardableHeaders(upstream.rawHeaders);
    if (scrubs.length > 0) {
      // Scrubbing may change the body's length: the response goes out chunked instead.
      out = forwardableHeaders(upstream.rawHeaders, (name) => name === 'content-length').map((v) =>
        scrubText(v, scrubs),
      );
    }
    res.writeHead(status, upstream.statusMessage, out);
    upstream.on('data', (chunk: Buffer) => {
      entry.record.bytesIn += chunk.length;
    });
    upstream.on('error', () => res.destroy());
    if (scrubs.length > 0) upstream.pipe(new ScrubStream(scrubs)).pipe(res);
    else upstream.pipe(res);
  });
  upstreamReq.on('error', (err: Error) => {
    core.logger.warn(
      { host: target.host.value, port: target.port, error: err.message },
      'secret host upstream failed',
    );
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const answer =
      err instanceof UpstreamTlsError
        ? refusal('upstream_tls_failed', 'upstream-tls-failed', err.message)
        : refusal('dependency_unavailable', 'upstream-failed', 'the upstream did not answer');
    refuse(inner, res, answer);
  });
  res.on('close', () => {
    if (!res.writableFinished) upstreamReq.destroy();
  });
  req.on('data', (chunk: Buffer) => {
    entry.record.bytesOut += chunk.length;
  });
  req.pipe(upstreamReq);
}

/** The values substituted into a request, each to be written back as its placeholder. */
function scrubsFor(secrets: readonly SecretBinding[], used: readonly string[]): Scrub[] {
  return secrets
    .filter((s) => used.includes(s.name))
    .map((s) => ({
      needle: Buffer.from(s.value(), 'latin1'),
      replacement: Buffer.from(s.placeholder),
    }))
    .filter((s) => s.needle.length > 0);
}
