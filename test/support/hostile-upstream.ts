import { request, type IncomingHttpHeaders } from 'node:http';
import {
  connect as netConnect,
  createServer as createNetServer,
  type AddressInfo,
  type Server as NetServer,
  type Socket,
} from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect, TLSSocket, createSecureContext } from 'node:tls';

/**
 * Hostile upstreams and a bounded container-side client for attacking the egress proxy
 * in-process: an upstream answers each request with an exact script of bytes, pauses, ends and
 * resets (over plain TCP or over TLS with a test CA), and the client turns whatever comes back
 * into one outcome within a deadline.
 */

/** One step of an upstream's answer. */
export type Step =
  | { readonly write: Buffer }
  | { readonly wait: number }
  | { readonly end: true }
  | { readonly reset: true };

export type Script = readonly Step[];

/** A request as the upstream received it. */
export interface ReceivedRequest {
  /** The request line and headers, latin1, without the blank line. */
  readonly head: string;
  readonly body: Buffer;
  /** Header value by lower-case name (the last one). */
  header(name: string): string | undefined;
}

export interface ScriptedUpstream {
  readonly port: number;
  /** Connections open right now. */
  readonly open: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  readonly requests: ReceivedRequest[];
  /** The answer to each request (a Content-Length or chunked body is read first); the default answers 200 `ok` and keeps the connection. */
  script: (req: ReceivedRequest) => Script;
  /** Resets (TCP RST) every open connection that has not sent a whole request. */
  resetIdle(): number;
  close(): Promise<void>;
}

/** Bytes of a latin1 string (every code unit is one byte). */
export function bytes(text: string): Buffer {
  return Buffer.from(text, 'latin1');
}

/** A well-formed answer: `HTTP/1.1 200 OK`, a Content-Length and `body`. */
export function okAnswer(body = 'ok'): Script {
  return [
    {
      write: bytes(
        `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
      ),
    },
  ];
}

function parseHead(head: string): (name: string) => string | undefined {
  const lines = head.split('\r\n').slice(1);
  return (name) => {
    let found: string | undefined;
    for (const line of lines) {
      const colon = line.indexOf(':');
      if (colon > 0 && line.slice(0, colon).trim().toLowerCase() === name)
        found = line.slice(colon + 1).trim();
    }
    return found;
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A body of `length` bytes at `from`, or null until it has all arrived. */
function readLength(
  buffer: Buffer,
  from: number,
  length: number,
): { body: Buffer; next: number } | null {
  if (buffer.length < from + length) return null;
  return { body: buffer.subarray(from, from + length), next: from + length };
}

/** A chunked body at `from` (trailers skipped), or null until its last chunk has arrived. */
function readChunked(buffer: Buffer, from: number): { body: Buffer; next: number } | null {
  const parts: Buffer[] = [];
  let at = from;
  for (;;) {
    const lineEnd = buffer.indexOf('\r\n', at);
    if (lineEnd < 0) return null;
    const size = parseInt(buffer.subarray(at, lineEnd).toString('latin1').split(';')[0] ?? '', 16);
    if (Number.isNaN(size)) return { body: Buffer.concat(parts), next: buffer.length };
    if (size === 0) {
      const trailerEnd = buffer.indexOf('\r\n\r\n', lineEnd);
      if (trailerEnd < 0) return null;
      return { body: Buffer.concat(parts), next: trailerEnd + 4 };
    }
    if (buffer.length < lineEnd + 2 + size + 2) return null;
    parts.push(buffer.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
}

/**
 * An upstream on `host` that reads each request (head, then a Content-Length body) and plays
 * `script(request)` on the connection. With `tls`, TLS is terminated on the accepted TCP
 * socket, so a reset is a real TCP RST.
 */
export async function startScriptedUpstream(
  options: { host?: string; tls?: { key: string; cert: string } } = {},
): Promise<ScriptedUpstream> {
  const raws = new Set<Socket>();
  const idle = new Set<Socket>();
  const context = options.tls
    ? createSecureContext({ key: options.tls.key, cert: options.tls.cert })
    : null;
  const state = {
    accepted: 0,
    requests: [] as ReceivedRequest[],
    script: (() => okAnswer()) as (req: ReceivedRequest) => Script,
  };

  const serve = (raw: Socket, stream: Duplex): void => {
    let buffer = Buffer.alloc(0);
    let busy = false;
    let done = false;
    const play = async (script: Script): Promise<void> => {
      for (const step of script) {
        if (done) return;
        if ('write' in step) stream.write(step.write);
        else if ('wait' in step) await sleep(step.wait);
        else if ('end' in step) {
          done = true;
          stream.end();
          // A peer that keeps the connection open after our FIN gets a reset shortly after.
          setTimeout(() => raw.destroy(), 2_000).unref();
        } else {
          done = true;
          raw.resetAndDestroy();
        }
      }
    };
    const next = (): void => {
      if (busy || done) return;
      const end = buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buffer.subarray(0, end).toString('latin1');
      const header = parseHead(head);
      const framed = /chunked/i.test(header('transfer-encoding') ?? '')
        ? readChunked(buffer, end + 4)
        : readLength(buffer, end + 4, Number(header('content-length') ?? '0'));
      if (framed === null) return;
      const { body, next: rest } = framed;
      buffer = buffer.subarray(rest);
      idle.delete(raw);
      const req: ReceivedRequest = { head, body, header };
      state.requests.push(req);
      busy = true;
      play(state.script(req)).then(
        () => {
          busy = false;
          next();
        },
        () => raw.destroy(),
      );
    };
    stream.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      next();
    });
    stream.on('error', () => raw.destroy());
    stream.on('end', () => {
      if (!busy) stream.end();
    });
  };

  const server: NetServer = createNetServer((raw) => {
    state.accepted += 1;
    raws.add(raw);
    idle.add(raw);
    raw.on('close', () => {
      raws.delete(raw);
      idle.delete(raw);
    });
    raw.on('error', () => raw.destroy());
    if (!context) {
      serve(raw, raw);
      return;
    }
    const tls = new TLSSocket(raw, { isServer: true, secureContext: context });
    tls.on('error', () => raw.destroy());
    tls.once('secure', () => serve(raw, tls));
  });
  await new Promise<void>((r) => server.listen(0, options.host ?? '127.0.0.2', r));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    get open() {
      return raws.size;
    },
    get accepted() {
      return state.accepted;
    },
    requests: state.requests,
    get script() {
      return state.script;
    },
    set script(value) {
      state.script = value;
    },
    resetIdle() {
      const targets = [...idle];
      for (const raw of targets) raw.resetAndDestroy();
      return targets.length;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const raw of raws) raw.destroy();
        server.close(() => r());
      }),
  };
}

/** What the container got for one request. */
export type Outcome =
  | {
      readonly kind: 'response';
      readonly status: number;
      readonly statusMessage: string;
      readonly headers: IncomingHttpHeaders;
      readonly rawHeaders: string[];
      readonly body: Buffer;
    }
  /** The connection closed (or was reset) before a whole answer: allowed for a broken upstream. */
  | { readonly kind: 'closed'; readonly error: string }
  /** The proxy sent bytes the client's HTTP parser refuses: never allowed. */
  | { readonly kind: 'malformed'; readonly error: string }
  /** Nothing ended the request within the deadline: never allowed. */
  | { readonly kind: 'timeout' }
  /** The CONNECT itself was refused (the refusal's text). */
  | { readonly kind: 'refused'; readonly text: string };

export interface RequestInit {
  readonly method?: string;
  readonly path: string;
  /** A raw header list keeps order, case and duplicates. */
  readonly headers?: Record<string, string> | string[];
  readonly body?: string | Buffer;
}

function classify(err: NodeJS.ErrnoException): Outcome {
  const code = err.code ?? '';
  return code.startsWith('HPE_')
    ? { kind: 'malformed', error: `${code}: ${err.message}` }
    : { kind: 'closed', error: code || err.message };
}

/**
 * Sends one request over `socket` (already connected) and answers its outcome; the socket is
 * destroyed when the outcome is known or `deadlineMs` has passed.
 */
export function exchange(socket: Duplex, init: RequestInit, deadlineMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    let settled = false;
    const settle = (outcome: Outcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => settle({ kind: 'timeout' }), deadlineMs);
    socket.on('error', () => undefined);
    // A body goes with its Content-Length, as model clients send it (the scripted upstream
    // frames requests by Content-Length only).
    const headers =
      init.body !== undefined && Array.isArray(init.headers)
        ? [...init.headers, 'Content-Length', String(Buffer.byteLength(init.body))]
        : init.headers;
    const req = request(
      {
        method: init.method ?? 'GET',
        path: init.path,
        headers,
        setHost: false,
        createConnection: () => socket,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          settle({
            kind: 'response',
            status: res.statusCode ?? 0,
            statusMessage: res.statusMessage ?? '',
            headers: res.headers,
            rawHeaders: res.rawHeaders,
            body: Buffer.concat(chunks),
          }),
        );
        res.on('aborted', () => settle({ kind: 'closed', error: 'aborted mid-body' }));
        res.on('error', (err: NodeJS.ErrnoException) => settle(classify(err)));
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) => settle(classify(err)));
    req.end(init.body);
  });
}

/** One request over the proxy's Unix socket (origin-form or absolute-form path). */
export function viaListener(
  socketPath: string,
  init: RequestInit,
  deadlineMs: number,
): Promise<Outcome> {
  return exchange(netConnect(socketPath), init, deadlineMs);
}

/**
 * A CONNECT tunnel over the proxy's Unix socket, then TLS trusting only `caPem`: answers the
 * TLS socket, or the outcome that ended it first (refusal, close, deadline).
 */
export function openTlsTunnel(
  socketPath: string,
  authority: string,
  servername: string,
  caPem: string,
  deadlineMs: number,
): Promise<{ tls: TLSSocket } | { outcome: Outcome }> {
  return new Promise((resolve) => {
    const socket = netConnect(socketPath);
    let settled = false;
    const finish = (value: { tls: TLSSocket } | { outcome: Outcome }): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if ('outcome' in value) socket.destroy();
      resolve(value);
    };
    const timer = setTimeout(() => finish({ outcome: { kind: 'timeout' } }), deadlineMs);
    socket.on('error', (err: NodeJS.ErrnoException) =>
      finish({ outcome: { kind: 'closed', error: err.code ?? err.message } }),
    );
    let buffered = '';
    const onData = (chunk: Buffer): void => {
      buffered += chunk.toString('latin1');
      const end = buffered.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.removeListener('data', onData);
      if (!/^HTTP\/1\.1 200 /.test(buffered)) {
        socket.on('data', (more: Buffer) => (buffered += more.toString('latin1')));
        socket.on('close', () => finish({ outcome: { kind: 'refused', text: buffered } }));
        return;
      }
      const tls = tlsConnect({ socket, servername, ca: caPem, ALPNProtocols: ['http/1.1'] });
      tls.once('secureConnect', () => finish({ tls }));
      tls.once('error', (err: NodeJS.ErrnoException) =>
        finish({ outcome: { kind: 'closed', error: `tls: ${err.code ?? err.message}` } }),
      );
    };
    socket.on('data', onData);
    socket.on('close', () => finish({ outcome: { kind: 'closed', error: 'closed before 200' } }));
    socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`);
  });
}

/** One request in a fresh terminated tunnel; the whole exchange ends within `deadlineMs`. */
export async function viaTunnel(
  socketPath: string,
  tunnel: { authority: string; servername: string; caPem: string },
  init: RequestInit,
  deadlineMs: number,
): Promise<Outcome> {
  const started = Date.now();
  const opened = await openTlsTunnel(
    socketPath,
    tunnel.authority,
    tunnel.servername,
    tunnel.caPem,
    deadlineMs,
  );
  if ('outcome' in opened) return opened.outcome;
  return exchange(opened.tls, init, Math.max(1, deadlineMs - (Date.now() - started)));
}

/** Every exception and rejection nobody handled while the watch runs. */
export interface UncaughtWatch {
  readonly errors: string[];
  stop(): void;
}

/**
 * Records uncaught exceptions and unhandled rejections (vitest reports them as well): a test
 * asserts the list stays empty, so a proxy handler that throws fails the test that caused it.
 */
export function watchUncaught(): UncaughtWatch {
  const errors: string[] = [];
  const onError = (err: unknown): void => {
    errors.push(err instanceof Error ? `${err.name}: ${err.message}` : String(err));
  };
  process.on('uncaughtException', onError);
  process.on('unhandledRejection', onError);
  return {
    errors,
    stop() {
      process.removeListener('uncaughtException', onError);
      process.removeListener('unhandledRejection', onError);
    },
  };
}

/** Polls `check` every 50 ms until it holds or `timeoutMs` passes; answers whether it held. */
export async function eventually(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

/** A short description of an outcome for assertion messages. */
export function describeOutcome(outcome: Outcome): string {
  switch (outcome.kind) {
    case 'response':
      return `${outcome.status} ${JSON.stringify(outcome.statusMessage)} ${outcome.body.toString('latin1').slice(0, 200)}`;
    case 'closed':
    case 'malformed':
      return `${outcome.kind}: ${outcome.error}`;
    case 'timeout':
      return 'timeout';
    case 'refused':
      return `refused: ${outcome.text.slice(0, 200)}`;
  }
}

/** The error code of a proxy answer's JSON body, or null. */
export function errorCode(outcome: Outcome): string | null {
  if (outcome.kind !== 'response') return null;
  try {
    const parsed = JSON.parse(outcome.body.toString('utf8')) as { error?: { code?: unknown } };
    return typeof parsed.error?.code === 'string' ? parsed.error.code : null;
  } catch {
    return null;
  }
}
