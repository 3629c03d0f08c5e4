import { chmod, lstat, unlink } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { dirname } from 'node:path';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { AuditEntry, type AuditRecord, type Identity } from '../audit/audit.js';
import { createBedrockSigner, type AwsCredentialsProvider } from '../bedrock/signer.js';
import { refuse, refuseRaw, type ProxyCore, type RequestContext } from '../routes/context.js';
import {
  checkFraming,
  checkHeaderCount,
  HeaderRefusal,
  type RequestFraming,
} from '../http/headers.js';
import { headerRefusal, refusal, writeRawAnswer } from '../http/responses.js';
import { matchModelRoute } from '../http/targets.js';
import { UpstreamAgents } from '../http/upstream-agents.js';
import { BodyBudget } from '../limits/body-budget.js';
import { DEFAULT_LIMITS, RETRY_AFTER_SECONDS, type ProxyLimits } from '../limits/limits.js';
import { checkSocketDirectory } from '../net/socket-dir.js';
import {
  systemBridgeNetworks,
  systemLocalAddresses,
  systemResolver,
  type Resolver,
} from '../net/resolve.js';
import type { Cidr } from '../net/cidr.js';
import type { EgressPolicy } from '../policy/policy.js';
import { ProducedForms } from '../secrets/host-scrubs.js';
import { NO_SECRETS, type SecretSource } from '../secrets/secrets.js';
import { interceptionFor, type InterceptionOptions } from '../tls/options.js';
import { forwardAnthropic } from '../routes/anthropic.js';
import {
  DEFAULT_ANTHROPIC_OPERATIONS,
  parseAnthropicOperations,
  type AnthropicOperation,
} from '../routes/anthropic-operations.js';
import { TunnelSet } from '../routes/tunnels.js';
import { forwardBedrock } from '../routes/bedrock.js';
import { forwardAbsolute, openTunnel } from '../routes/egress.js';

export interface CredentialProxyOptions {
  /**
   * `/_workcell/anthropic/*`; absent: the route answers 404. `operations` adds to the ones the
   * SDK needs (`POST /v1/messages`, `POST /v1/messages/count_tokens`).
   */
  anthropic?: {
    upstream: URL;
    apiKey: () => string | undefined;
    operations?: readonly AnthropicOperation[];
  } | null;
  /** `/_workcell/bedrock/*`; absent: the route answers 404. */
  bedrock?: {
    upstream: URL;
    region: string;
    credentials: AwsCredentialsProvider;
    maxBodyBytes: number;
  } | null;
  /** Name resolution for egress destinations; default `dns.lookup(host, {all: true})`. */
  resolve?: Resolver;
  /** This host's interface addresses, refused as destinations; default `os.networkInterfaces()`. */
  localAddresses?: () => readonly string[];
  /** This host's container bridge networks; default the `docker*`/`br-*` interfaces' networks. */
  bridgeNetworks?: () => readonly Cidr[];
  /** Receives one record per request or tunnel. */
  audit: (record: AuditRecord) => void;
  logger: Logger;
  resolveTimeoutMs?: number;
  dialTimeoutMs?: number;
  /** Caps and timeouts; each unset field takes its default (`DEFAULT_LIMITS`). */
  limits?: Partial<ProxyLimits>;
  /** Milliseconds since the epoch; default a monotonic high-resolution clock. */
  clock?: () => number;
  /** Terminate TLS for hosts bound to a workspace secret; absent: every tunnel is opaque. */
  interception?: InterceptionOptions | null;
}

/** One container's egress socket. */
export interface EgressListener {
  readonly socketPath: string;
  /** Who calls through this socket from now on (a warm container is assigned later). */
  setIdentity(identity: Identity): void;
  /** Where this socket's policy comes from from now on; read on every request. */
  setPolicy(policy: () => EgressPolicy): void;
  /**
   * Re-decides the open tunnels against the policy as it is now and closes those it no longer
   * allows (call after narrowing the workspace's policy); answers how many it closed.
   */
  revalidate(): number;
  /** Where this socket's secrets come from from now on; read on every request. */
  setSecrets(secrets: SecretSource): void;
  close(): Promise<void>;
}

function checkUpstream(upstream: URL, name: string): void {
  if (upstream.protocol !== 'http:' && upstream.protocol !== 'https:')
    throw new Error(`${name} must be an http(s) URL`);
  if (upstream.username !== '' || upstream.password !== '')
    throw new Error(`${name} must not carry credentials`);
}

/**
 * The host-side egress proxy: one listener per container on that container's egress socket, so
 * the caller's identity comes from which socket it used. Model routes get the host's credential
 * added on the way out; everything else is CONNECT or absolute-form HTTP to allowed hosts.
 */
export class CredentialProxy {
  private readonly core: ProxyCore;
  private readonly listeners = new Set<SocketListener>();

  constructor(options: CredentialProxyOptions) {
    const logger = options.logger.child({ component: 'credential-proxy' });
    const sink = (record: AuditRecord): void => {
      try {
        options.audit(record);
      } catch (err) {
        logger.error(
          { error: err instanceof Error ? err.message : String(err) },
          'audit sink failed',
        );
      }
    };
    if (options.anthropic) checkUpstream(options.anthropic.upstream, 'the Anthropic upstream');
    if (options.bedrock) checkUpstream(options.bedrock.upstream, 'the Bedrock upstream');
    const limits: ProxyLimits = { ...DEFAULT_LIMITS, ...options.limits };
    this.core = {
      anthropic: options.anthropic
        ? {
            upstream: options.anthropic.upstream,
            apiKey: options.anthropic.apiKey,
            operations: [
              ...parseAnthropicOperations(DEFAULT_ANTHROPIC_OPERATIONS, 'built-in operations'),
              ...(options.anthropic.operations ?? []),
            ],
          }
        : null,
      bedrock: options.bedrock
        ? {
            upstream: options.bedrock.upstream,
            signer: createBedrockSigner(options.bedrock.region, options.bedrock.credentials),
            maxBodyBytes: options.bedrock.maxBodyBytes,
          }
        : null,
      resolve: {
        resolve: options.resolve ?? systemResolver,
        localAddresses: options.localAddresses ?? systemLocalAddresses,
        bridgeNetworks: options.bridgeNetworks ?? systemBridgeNetworks,
        timeoutMs: options.resolveTimeoutMs ?? 5_000,
      },
      dialTimeoutMs: options.dialTimeoutMs ?? 10_000,
      limits,
      bodies: new BodyBudget(limits.maxBufferedBodyBytes),
      logger,
      clock: options.clock ?? (() => performance.timeOrigin + performance.now()),
      audit: sink,
      interception: options.interception ? interceptionFor(options.interception) : null,
    };
  }

  /**
   * Starts a listener on `socketPath` for one container: the file is made connectable by the
   * container's user (0666; the directory needs search permission for it). The directory must
   * exist and be writable by this process alone (it is refused otherwise), so no other user can
   * swap the path between `listen()` and `chmod()`. `policy()` is read on every request, so a
   * change applies to the next request without a restart.
   */
  async listen(
    socketPath: string,
    identity: Identity,
    policy: () => EgressPolicy,
    secrets: SecretSource = NO_SECRETS,
  ): Promise<EgressListener> {
    const listener = new SocketListener(this.core, socketPath, identity, policy, () =>
      this.listeners.delete(listener),
    );
    listener.setSecrets(secrets);
    await listener.start();
    this.listeners.add(listener);
    return listener;
  }

  /** Closes every listener and its upstream connections. */
  async close(): Promise<void> {
    await Promise.all([...this.listeners].map((l) => l.close()));
  }

  /** Request-body bytes buffered right now across every listener (for metrics and tests). */
  get bufferedBodyBytes(): number {
    return this.core.bodies.inUse;
  }
}

class SocketListener implements EgressListener {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  /** This listener's own upstream connections: never shared with another workspace. */
  private readonly upstreams = new UpstreamAgents();
  private readonly tunnels: TunnelSet;
  /** Encoded value forms this listener's requests carried, scrubbed from later responses. */
  private readonly produced = new ProducedForms();
  /** The response in progress on each connection, so a late parse error does not answer twice. */
  private readonly inFlight = new WeakMap<Duplex, ServerResponse>();
  private closing: Promise<void> | null = null;
  private secrets: SecretSource = NO_SECRETS;

  constructor(
    private readonly core: ProxyCore,
    readonly socketPath: string,
    private identity: Identity,
    private policy: () => EgressPolicy,
    private readonly onClose: () => void,
  ) {
    const { limits } = core;
    this.tunnels = new TunnelSet(limits.maxTunnelsPerListener);
    // The strict parser refuses TE with CL, obs-fold, whitespace before a colon and bare LFs. A
    // missing Host header is refused by `route` rather than by the server, so it is recorded.
    this.server = createServer({
      insecureHTTPParser: false,
      requireHostHeader: false,
      keepAliveTimeout: 5_000,
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      connectionsCheckingInterval: Math.min(1_000, limits.headersTimeoutMs),
    });
    // One more than the cap, so a request at the cap is seen whole and one past it is refused.
    this.server.maxHeadersCount = limits.maxHeaderCount + 1;
    // Nothing a handler throws may reach the event loop: it would end the host process.
    this.server.on('connection', (socket: Socket) =>
      this.contain(socket, () => this.onConnection(socket)),
    );
    this.server.on('request', (req: IncomingMessage, res: ServerResponse) =>
      this.contain(req.socket, () => this.onRequest(req, res)),
    );
    this.server.on('connect', (req: IncomingMessage, socket: Duplex, head: Buffer) =>
      this.contain(socket, () => this.onConnect(req, socket, head)),
    );
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) =>
      this.contain(socket, () => this.onClientError(err, socket)),
    );
  }

  setIdentity(identity: Identity): void {
    if (identity.workspaceId !== this.identity.workspaceId) {
      // A container serves one workspace; a new one starts with nothing of the last one's.
      this.upstreams.reset();
      this.tunnels.closeAll();
      this.produced.clear();
    }
    this.identity = identity;
  }

  setPolicy(policy: () => EgressPolicy): void {
    this.policy = policy;
    this.revalidate();
  }

  revalidate(): number {
    const closed = this.tunnels.revalidate(this.policy());
    if (closed > 0)
      this.core.logger.info(
        { workspaceId: this.identity.workspaceId, closed },
        'tunnels closed: the policy no longer allows them',
      );
    return closed;
  }

  setSecrets(secrets: SecretSource): void {
    this.secrets = secrets;
  }

  async start(): Promise<void> {
    await checkSocketDirectory(dirname(this.socketPath));
    const existing = await lstat(this.socketPath).catch(() => null);
    if (existing) {
      if (!existing.isSocket()) throw new Error(`${this.socketPath} exists and is not a socket`);
      await unlink(this.socketPath);
    }
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.socketPath, () => {
        this.server.removeListener('error', reject);
        resolve();
      });
    });
    await chmod(this.socketPath, 0o666);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
      for (const socket of this.sockets) socket.destroy();
      this.tunnels.closeAll();
      this.upstreams.reset();
      await closed;
      await unlink(this.socketPath).catch(() => undefined);
      this.onClose();
    })();
    return this.closing;
  }

  /** Runs a server event handler; a throw is logged and ends that connection only. */
  private contain(socket: Duplex, handler: () => void): void {
    try {
      handler();
    } catch (err) {
      this.core.logger.error(
        {
          workspaceId: this.identity.workspaceId,
          error: err instanceof Error ? (err.stack ?? err.message) : String(err),
        },
        'proxy handler failed',
      );
      socket.destroy();
    }
  }

  private context(method: string, route: AuditRecord['route']): RequestContext {
    const identity = this.identity;
    return {
      core: this.core,
      identity,
      policy: this.policy,
      secrets: this.secrets,
      entry: new AuditEntry(identity, method, route, this.core.clock, this.core.audit),
      upstreams: this.upstreams,
      tunnels: this.tunnels,
      produced: this.produced,
    };
  }

  /** Past the listener's connection cap a new connection is answered 503 and closed. */
  private onConnection(socket: Socket): void {
    if (this.sockets.size >= this.core.limits.maxConnectionsPerListener) {
      const ctx = this.context('CONNECTION', 'other');
      socket.on('error', () => socket.destroy());
      refuseRaw(
        ctx,
        socket,
        refusal(
          'proxy_at_capacity',
          'connection-limit',
          `this workspace already has ${this.core.limits.maxConnectionsPerListener} connections open`,
          RETRY_AFTER_SECONDS,
        ),
      );
      socket.destroySoon();
      ctx.entry.emit();
      return;
    }
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const ctx = this.context(req.method ?? 'UNKNOWN', 'other');
    this.inFlight.set(req.socket, res);
    res.once('close', () => {
      if (this.inFlight.get(req.socket) === res) this.inFlight.delete(req.socket);
      ctx.entry.emit();
    });
    this.route(ctx, req, res).catch((err: unknown) => {
      this.core.logger.error(
        { error: err instanceof Error ? err.message : String(err) },
        'proxy request failed',
      );
      refuse(
        ctx,
        res,
        refusal('internal', 'internal-error', 'the proxy failed to handle the request'),
      );
    });
  }

  private async route(
    ctx: RequestContext,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> {
    if (req.httpVersionMajor !== 1) {
      refuse(ctx, res, refusal('bad_request', 'malformed-request', 'only HTTP/1.x is accepted'));
      return;
    }
    let framing: RequestFraming;
    try {
      checkHeaderCount(req.rawHeaders, this.core.limits.maxHeaderCount);
      framing = checkFraming(req.rawHeaders, req.method ?? '');
    } catch (err) {
      if (!(err instanceof HeaderRefusal)) throw err;
      refuse(ctx, res, headerRefusal(err));
      return;
    }
    if (req.httpVersionMinor >= 1 && framing.host === null) {
      refuse(
        ctx,
        res,
        refusal('bad_request', 'malformed-request', 'an HTTP/1.1 request needs a Host header'),
      );
      return;
    }
    const target = req.url ?? '';
    if (target.startsWith('/')) {
      const route = matchModelRoute(target);
      if (!route) {
        refuse(
          ctx,
          res,
          refusal(
            'bad_request',
            'origin-form-not-routed',
            'origin-form requests go only to /_workcell/anthropic and /_workcell/bedrock; use a proxy request for other hosts',
          ),
        );
        return;
      }
      ctx.entry.record.route = route.route;
      if (route.route === 'anthropic') forwardAnthropic(ctx, req, res, route.rest, framing);
      else await forwardBedrock(ctx, req, res, route.rest);
      return;
    }
    ctx.entry.record.route = 'http';
    await forwardAbsolute(ctx, req, res, framing);
  }

  private onConnect(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const ctx = this.context('CONNECT', 'connect');
    if (req.httpVersionMajor !== 1) {
      socket.once('close', () => ctx.entry.emit());
      refuseRaw(
        ctx,
        socket,
        refusal('bad_request', 'malformed-request', 'only HTTP/1.x is accepted'),
      );
      return;
    }
    openTunnel(ctx, req, socket, head).catch((err: unknown) => {
      this.core.logger.error(
        { error: err instanceof Error ? err.message : String(err) },
        'proxy tunnel failed',
      );
      refuseRaw(
        ctx,
        socket,
        refusal('internal', 'internal-error', 'the proxy failed to handle the request'),
      );
    });
  }

  /**
   * Requests the HTTP parser refuses (smuggling shapes, bad framing) answer 400 and are recorded.
   * A parse error in the body of a request already being answered ends the connection instead:
   * after the answer when it is written, at once when it is not.
   */
  private onClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
    const current = this.inFlight.get(socket);
    if (current) {
      if (current.headersSent) socket.end();
      else socket.destroy();
      return;
    }
    if (err.code === 'ECONNRESET' || err.code === 'ERR_HTTP_REQUEST_TIMEOUT' || !socket.writable) {
      socket.destroy();
      return;
    }
    const ctx = this.context('INVALID', 'other');
    // Past `maxHeadersCount` (or the header size limit) the parser itself stops the request.
    const answer =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? refusal(
            'headers_too_large',
            'too-many-headers',
            `more than ${this.core.limits.maxHeaderCount} header lines, or headers too large`,
          )
        : refusal(
            'bad_request',
            'malformed-request',
            `malformed HTTP request (${err.code ?? 'parse error'})`,
          );
    ctx.entry.record.reason = answer.reason;
    ctx.entry.record.status = answer.status;
    writeRawAnswer(socket, answer);
    ctx.entry.emit();
  }
}
