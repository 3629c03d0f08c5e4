import { mkdtempSync, rmSync } from 'node:fs';
import {
  createServer,
  request,
  type IncomingMessage,
  type RequestListener,
  type Server,
} from 'node:http';
import {
  connect,
  createServer as createNetServer,
  type AddressInfo,
  type Server as NetServer,
  type Socket,
} from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import {
  CredentialProxy,
  EMPTY_POLICY,
  type AuditRecord,
  type CredentialProxyOptions,
  type EgressListener,
  type EgressPolicy,
} from '../src/index.js';

/** Secrets every proxy test hands to the proxy; none may appear in a log line or audit record. */
export const SECRETS = {
  anthropicKey: 'sk-ant-host-secret-4f1c9a7e2b',
  accessKeyId: 'AKIAHOSTKEYID7Q3Z',
  secretAccessKey: 'host-secret-access-key-9d8e7f6a5b4c',
  sessionToken: 'host-session-token-FQoGZXIvYXdzE-2c4e6a8b',
} as const;

/** Every log line and audit record written by any proxy started in this test file. */
export const captured = { logs: [] as string[], audit: [] as AuditRecord[] };

/**
 * Everything captured that contains a secret. The access key id is scanned too: it is not a
 * secret, but it travels only in the signed Authorization header, which is never logged.
 */
export function secretHits(): string[] {
  const haystacks = [...captured.logs, ...captured.audit.map((r) => JSON.stringify(r))];
  const needles = [
    SECRETS.anthropicKey,
    SECRETS.secretAccessKey,
    SECRETS.sessionToken,
    SECRETS.accessKeyId,
  ];
  return haystacks.filter((h) => needles.some((n) => h.includes(n)));
}

export function captureLogger(): pino.Logger {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      captured.logs.push(chunk.toString('utf8'));
      done();
    },
  });
  return pino({ level: 'trace' }, sink);
}

export interface ProxyHarness {
  proxy: CredentialProxy;
  listener: EgressListener;
  socketPath: string;
  audit: AuditRecord[];
  policy: { current: EgressPolicy };
  /** Waits until `n` audit records exist (records are emitted when a connection closes). */
  waitForAudit(n: number): Promise<AuditRecord[]>;
  close(): Promise<void>;
}

/** A proxy with one listener on a fresh socket; options override the test defaults. */
export async function startProxy(
  options: Partial<CredentialProxyOptions> & { policy?: EgressPolicy } = {},
): Promise<ProxyHarness> {
  const dir = mkdtempSync(join(tmpdir(), 'workcell-proxy-test-'));
  const socketPath = join(dir, 'egress.sock');
  const audit: AuditRecord[] = [];
  const policy = { current: options.policy ?? EMPTY_POLICY };
  const proxy = new CredentialProxy({
    logger: captureLogger(),
    resolve: async () => {
      throw new Error('no resolver in this test');
    },
    localAddresses: () => [],
    ...options,
    audit: (record) => {
      audit.push(record);
      captured.audit.push(record);
      options.audit?.(record);
    },
  });
  const listener = await proxy.listen(
    socketPath,
    { workspaceId: 'ws-test', containerId: 'ctr-test' },
    () => policy.current,
  );
  return {
    proxy,
    listener,
    socketPath,
    audit,
    policy,
    async waitForAudit(n) {
      const deadline = Date.now() + 5_000;
      while (audit.length < n) {
        if (Date.now() > deadline)
          throw new Error(`expected ${n} audit records, have ${audit.length}`);
        await new Promise((r) => setTimeout(r, 10));
      }
      return audit;
    },
    async close() {
      await proxy.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Sends raw bytes over the Unix socket and answers everything read until the peer closes. */
export function rawExchange(
  socketPath: string,
  data: string | Buffer,
  idleMs = 1_000,
): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(socketPath);
    let out = '';
    let timer: NodeJS.Timeout | undefined;
    const arm = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => socket.destroy(), idleMs);
    };
    socket.on('data', (chunk: Buffer) => {
      out += chunk.toString('latin1');
      arm();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
    socket.write(data);
    arm();
  });
}

/** The status code of the first response in a raw exchange, or null when none came back. */
export function statusOf(response: string): number | null {
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(response);
  return match ? Number(match[1]) : null;
}

export interface Reply {
  status: number;
  headers: IncomingMessage['headers'];
  rawHeaders: string[];
  body: string;
}

/** One HTTP request over the Unix socket (origin-form or absolute-form `path`). */
export function proxyRequest(
  socketPath: string,
  init: {
    method?: string;
    path: string;
    headers?: Record<string, string> | string[];
    body?: string | Buffer;
  },
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath,
        method: init.method ?? 'GET',
        path: init.path,
        headers: init.headers,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            rawHeaders: res.rawHeaders,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(init.body);
  });
}

export interface Upstream {
  server: Server;
  port: number;
  url: URL;
  /** Every request the upstream received: method, url and raw headers. */
  requests: { method: string; url: string; rawHeaders: string[]; body: Buffer }[];
  connections: number;
  close(): Promise<void>;
}

/** A plain HTTP upstream on `host` that records what arrives and answers with `handler`. */
export async function startUpstream(
  handler: RequestListener,
  host = '127.0.0.1',
): Promise<Upstream> {
  const upstream: Upstream = {
    server: createServer(),
    port: 0,
    url: new URL('http://127.0.0.1'),
    requests: [],
    connections: 0,
    close: () => new Promise((r) => upstream.server.close(() => r())),
  };
  upstream.server.on('connection', () => {
    upstream.connections += 1;
  });
  upstream.server.on('request', (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      upstream.requests.push({
        method: req.method ?? '',
        url: req.url ?? '',
        rawHeaders: req.rawHeaders,
        body: Buffer.concat(chunks),
      });
      handler(req, res);
    });
  });
  await new Promise<void>((r) => upstream.server.listen(0, host, r));
  upstream.port = (upstream.server.address() as AddressInfo).port;
  upstream.url = new URL(`http://${host}:${upstream.port}`);
  const close = upstream.close;
  upstream.close = () => {
    upstream.server.closeAllConnections();
    return close();
  };
  return upstream;
}

export interface Canary {
  port: number;
  connections: number;
  close(): Promise<void>;
}

/**
 * A TCP server on every local address (IPv4 and IPv6) that counts each connection it receives:
 * any request the proxy lets through to this machine on `port` reaches it.
 */
export async function startCanary(): Promise<Canary> {
  const sockets = new Set<Socket>();
  const server: NetServer = createNetServer((socket) => {
    canary.connections += 1;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.resume();
    socket.end('HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\ncanary');
  });
  const canary: Canary = {
    port: 0,
    connections: 0,
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
  await new Promise<void>((r) => server.listen({ port: 0, host: '::', ipv6Only: false }, r));
  canary.port = (server.address() as AddressInfo).port;
  return canary;
}
