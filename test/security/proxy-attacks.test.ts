import {
  brotliCompressSync,
  deflateSync,
  gzipSync,
  brotliDecompressSync,
  gunzipSync,
  inflateSync,
} from 'node:zlib';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { WorkcellError } from '@workcell/protocol';
import {
  parseCidr,
  parseCidrList,
  parseEgressPatterns,
  type AuditRecord,
  type Cidr,
  type SecretBinding,
} from '@workcell/proxy';
import { startCanary, startProxy, statusOf } from '../../packages/proxy/test/helpers.js';
import { openTunnel, startTls, TunnelSession } from '../../packages/proxy/test/tls-client.js';
import {
  BOUND_HOST,
  BOUND_VALUE,
  boundSecret,
  PLACEHOLDER,
  RELAY_PATHS,
  startHostileProxy,
  type HostileProxy,
} from '../support/hostile-proxy.js';
import {
  bytes,
  describeOutcome,
  errorCode,
  eventually,
  okAnswer,
  openTlsTunnel,
  viaListener,
  watchUncaught,
  type Outcome,
  type ReceivedRequest,
  type Script,
  type UncaughtWatch,
} from '../support/hostile-upstream.js';

/**
 * Attacks on the egress proxy by a hostile upstream and a hostile workspace, in-process against
 * the real `CredentialProxy`, one `describe` per weakness: an answer the proxy cannot relay, a
 * stored value it cannot send, upstream connections of tunnels that never carried a request,
 * values coming back encoded, read back later, compressed or in the reason phrase, slow requests
 * and requests without Host inside a terminated tunnel, placeholders in disguise, and the
 * unspecified address. A handler that throws fails the test that made it throw.
 */

/** Time a container request may take against any upstream here before it counts as hung. */
const DEADLINE_MS = 4_000;

let watch: UncaughtWatch;
beforeEach(() => {
  watch = watchUncaught();
});
afterEach(() => {
  watch.stop();
  expect(watch.errors, 'exceptions nobody caught (the host process would end)').toEqual([]);
});

function expectAnswer(outcome: Outcome, status: number, code: string | null = null): void {
  expect(outcome.kind, describeOutcome(outcome)).toBe('response');
  if (outcome.kind !== 'response') return;
  expect(outcome.status, describeOutcome(outcome)).toBe(status);
  if (code !== null) expect(errorCode(outcome), describeOutcome(outcome)).toBe(code);
}

/** An answer with exactly `status` line `line`, a two-byte body, then the connection's end. */
function statusLine(line: string): Script {
  return [{ write: bytes(`${line}\r\nContent-Length: 2\r\n\r\nok`) }, { end: true }];
}

/** The audit records emitted after `from` once `match` finds one (or fails after 3 s). */
async function auditAfter(
  fx: { harness: { audit: AuditRecord[] } },
  from: number,
  match: (r: AuditRecord) => boolean,
): Promise<AuditRecord> {
  let found: AuditRecord | undefined;
  await eventually(() => {
    found = fx.harness.audit.slice(from).find(match);
    return found !== undefined;
  }, 3_000);
  expect(found, `an audit record after #${from}`).toBeDefined();
  return found as AuditRecord;
}

/** The text a container can read of an answer: status line, headers and (decoded) body. */
function visible(outcome: Outcome): string {
  if (outcome.kind !== 'response') return '';
  return [outcome.statusMessage, ...outcome.rawHeaders, decoded(outcome).toString('latin1')].join(
    '\n',
  );
}

function decoded(outcome: Outcome & { kind: 'response' }): Buffer {
  const encoding = String(outcome.headers['content-encoding'] ?? '').toLowerCase();
  if (encoding === 'gzip') return gunzipSync(outcome.body);
  if (encoding === 'deflate') return inflateSync(outcome.body);
  if (encoding === 'br') return brotliDecompressSync(outcome.body);
  return outcome.body;
}

const basicOf = (user: string, value: string): string =>
  Buffer.from(`${user}:${value}`, 'latin1').toString('base64');

/** Rejects when `promise` takes longer than `ms`. */
function within<T>(ms: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

describe('1a. an upstream answer the proxy cannot relay answers 502 on every relay path', () => {
  let fx: HostileProxy;
  beforeAll(async () => {
    fx = await startHostileProxy();
  });
  afterAll(async () => {
    await fx.close();
  });
  beforeEach(() => {
    fx.secrets.current = [boundSecret()];
  });

  // Status lines Node's client parser accepts and `writeHead` refuses. (Header names and values
  // are held to the same character sets by both, so the parser refuses first: the hostile
  // upstream fuzz covers them.)
  const unrelayable: [string, string][] = [
    ['a control character in the reason phrase', 'HTTP/1.1 200 O\x01K'],
    ['NUL in the reason phrase', 'HTTP/1.1 200 O\x00K'],
    ['DEL in the reason phrase', 'HTTP/1.1 200 O\x7fK'],
    ['a unit separator in the reason phrase', 'HTTP/1.1 404 Not\x1fFound'],
    ['a status code below 100', 'HTTP/1.1 099 X'],
    ['status code 000', 'HTTP/1.1 000 X'],
  ];

  for (const path of RELAY_PATHS) {
    it(`${path}: 502 upstream_invalid_response, nothing thrown, the next request on the listener works`, async () => {
      for (const [what, line] of unrelayable) {
        fx.plain.script = () => statusLine(line);
        fx.secure.script = () => statusLine(line);
        const from = fx.harness.audit.length;
        const outcome = await fx.send(path, DEADLINE_MS);
        expect(watch.errors, `${path}, ${what}`).toEqual([]);
        expectAnswer(outcome, 502, 'upstream_invalid_response');
        const record = await auditAfter(fx, from, (r) => r.status === 502);
        expect(record.reason, `${path}, ${what}`).toBe('upstream-invalid-response');

        fx.plain.script = () => okAnswer('sane');
        fx.secure.script = () => okAnswer('sane');
        const next = await fx.send(path, DEADLINE_MS);
        expectAnswer(next, 200);
        expect(next.kind === 'response' && next.body.toString()).toBe('sane');
      }
    });
  }
});

describe('1b. a stored value that cannot travel in a header answers 502 secret_unusable', () => {
  let fx: HostileProxy;
  beforeAll(async () => {
    fx = await startHostileProxy();
    fx.secure.script = () => okAnswer('sane');
  });
  afterAll(async () => {
    await fx.close();
  });

  const unusable: [string, Partial<SecretBinding>][] = [
    ['a value with a character above U+00FF', { value: () => 'tok\u20acn' }],
    ['a value with an astral character', { value: () => 'tok\u{1f511}n' }],
    [
      'a format with a character above U+00FF',
      { header: 'authorization', format: 'Bearer \u20ac {value}' },
    ],
    ['a value with CR and LF', { value: () => 'tok\r\nX-Injected: 1' }],
    ['a value with NUL', { value: () => 'tok\x00n' }],
  ];

  for (const [what, overrides] of unusable) {
    it(`${what}: 502 secret_unusable in the tunnel, nothing thrown, nothing sent, the next request works`, async () => {
      fx.secrets.current = [boundSecret(overrides)];
      const before = fx.secure.requests.length;
      const from = fx.harness.audit.length;
      const outcome = await fx.send('tls', DEADLINE_MS, [
        'Authorization',
        `${overrides.format ? '' : 'token '}${PLACEHOLDER}`,
      ]);
      expect(watch.errors, what).toEqual([]);
      expectAnswer(outcome, 502, 'secret_unusable');
      expect(fx.secure.requests.length).toBe(before);
      const record = await auditAfter(fx, from, (r) => r.route === 'tls' && r.status === 502);
      expect(record).toMatchObject({ reason: 'secret-unusable', secrets: ['bound'] });

      fx.secrets.current = [boundSecret()];
      const next = await fx.send('tls', DEADLINE_MS, ['Authorization', `token ${PLACEHOLDER}`]);
      expectAnswer(next, 200);
      expect(fx.secure.requests.at(-1)?.header('authorization')).toBe(`token ${BOUND_VALUE}`);
    });
  }

  it('the same value inside Basic credentials answers 502 secret_unusable too', async () => {
    fx.secrets.current = [boundSecret({ value: () => 'tok\u20acn' })];
    const before = fx.secure.requests.length;
    const outcome = await fx.send('tls', DEADLINE_MS, [
      'Authorization',
      `Basic ${basicOf('git', PLACEHOLDER)}`,
    ]);
    expectAnswer(outcome, 502, 'secret_unusable');
    expect(fx.secure.requests.length).toBe(before);
  });
});

describe('2. tunnels that end before their first request leave no upstream connection open', () => {
  let fx: HostileProxy;
  beforeAll(async () => {
    fx = await startHostileProxy({ handshakeTimeoutMs: 1_000 });
  });
  afterAll(async () => {
    await fx.close();
  });

  /** CONNECT to the bound host and wait for its 200; the proxy has its upstream TLS by then. */
  async function connected(): Promise<Socket> {
    const opened = await openTunnel(fx.harness.socketPath, fx.tunnel.authority);
    if (!('socket' in opened)) throw new Error(`tunnel refused: ${opened.refused}`);
    return opened.socket;
  }

  it('closed at once, after the TLS handshake, or stalled in the handshake: the upstream count falls to 0', async () => {
    const accepted = fx.secure.accepted;
    for (let i = 0; i < 40; i += 1) (await connected()).destroy();
    for (let i = 0; i < 10; i += 1) {
      const socket = await connected();
      const tls = await startTls(socket, BOUND_HOST, fx.ca.certificatePem);
      tls.destroy();
    }
    // Stalled: the container never starts TLS; the proxy's handshake limit (1 s) ends them.
    const stalled = [];
    for (let i = 0; i < 10; i += 1) stalled.push(await connected());
    expect(fx.secure.accepted - accepted).toBe(60);
    const drained = await eventually(() => fx.secure.open === 0, 5_000);
    expect(drained, `upstream connections still open: ${fx.secure.open}`).toBe(true);
    for (const s of stalled) s.destroy();
    expect(watch.errors).toEqual([]);
  });

  it('an upstream that resets the idle first connection of an open tunnel does not end the process', async () => {
    const socket = await connected();
    const tls = await startTls(socket, BOUND_HOST, fx.ca.certificatePem);
    try {
      expect(fx.secure.resetIdle()).toBeGreaterThan(0);
      fx.secure.script = () => okAnswer('after reset');
      const next = await fx.send('tls', DEADLINE_MS);
      expect(watch.errors).toEqual([]);
      expectAnswer(next, 200);
    } finally {
      tls.destroy();
    }
  });
});

/** A reflecting upstream: each request's head comes back in the body and in `X-Echo`. */
function reflect(req: ReceivedRequest): Script {
  const echo = req.header('authorization') ?? '';
  const body = req.head;
  return [
    {
      write: bytes(
        `HTTP/1.1 200 OK\r\nX-Echo: ${echo}\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
      ),
    },
  ];
}

describe('3. the Basic encoding the proxy produced does not come back', () => {
  let fx: HostileProxy;
  beforeAll(async () => {
    fx = await startHostileProxy();
    fx.secure.script = reflect;
  });
  afterAll(async () => {
    await fx.close();
  });

  it('a reflecting upstream hands back neither the value nor base64(user:value)', async () => {
    fx.secrets.current = [boundSecret({ header: 'authorization' })];
    const outcome = await fx.send('tls', DEADLINE_MS, [
      'Authorization',
      `Basic ${basicOf('x-access-token', PLACEHOLDER)}`,
    ]);
    expectAnswer(outcome, 200);
    const produced = basicOf('x-access-token', BOUND_VALUE);
    // The upstream got the value, so the reflection carries it.
    expect(fx.secure.requests.at(-1)?.header('authorization')).toBe(`Basic ${produced}`);
    const seen = visible(outcome);
    expect(seen).not.toContain(BOUND_VALUE);
    expect(seen).not.toContain(produced);
  });
});

describe('4. every value bound to the host is scrubbed from every response of that host', () => {
  let fx: HostileProxy;
  /** What the upstream was told to remember, by key. */
  const remembered = new Map<string, string>();
  const OTHER_VALUE = 'sibling-REAL-value-90ab4e';

  beforeAll(async () => {
    fx = await startHostileProxy();
    fx.secure.script = (req) => {
      const key = req.header('x-key') ?? '';
      if (req.header('x-op') === 'store') {
        remembered.set(key, req.header('authorization') ?? '');
        return okAnswer('stored');
      }
      const text = remembered.get(key) ?? OTHER_VALUE;
      return [
        {
          write: bytes(
            `HTTP/1.1 200 OK\r\nX-Stored: ${text}\r\nContent-Length: ${text.length + 7}\r\n\r\nstored=${text}`,
          ),
        },
      ];
    };
  });
  afterAll(async () => {
    await fx.close();
  });

  async function session(): Promise<TunnelSession> {
    const opened = await openTunnel(fx.harness.socketPath, fx.tunnel.authority);
    if (!('socket' in opened)) throw new Error(`tunnel refused: ${opened.refused}`);
    return new TunnelSession(
      await startTls(opened.socket, BOUND_HOST, fx.ca.certificatePem),
      fx.tunnel.authority,
    );
  }

  async function storeThenRead(
    key: string,
    authorization: string,
  ): Promise<{ sameTunnel: string; newTunnel: string }> {
    const s = await session();
    try {
      const stored = await within(
        DEADLINE_MS,
        s.fetch('/', { 'X-Op': 'store', 'X-Key': key, Authorization: authorization }),
      );
      expect(stored.status).toBe(200);
      const read = await within(DEADLINE_MS, s.fetch('/', { 'X-Op': 'read', 'X-Key': key }));
      const again = await session();
      try {
        const fresh = await within(DEADLINE_MS, again.fetch('/', { 'X-Op': 'read', 'X-Key': key }));
        return {
          sameTunnel: `${JSON.stringify(read.headers)}\n${read.body}`,
          newTunnel: `${JSON.stringify(fresh.headers)}\n${fresh.body}`,
        };
      } finally {
        again.close();
      }
    } finally {
      s.close();
    }
  }

  it('a value stored with one request and read back without a placeholder is scrubbed (same and new tunnel)', async () => {
    fx.secrets.current = [boundSecret()];
    const { sameTunnel, newTunnel } = await storeThenRead('raw', `token ${PLACEHOLDER}`);
    expect(remembered.get('raw')).toBe(`token ${BOUND_VALUE}`);
    for (const text of [sameTunnel, newTunnel]) {
      expect(text).not.toContain(BOUND_VALUE);
      expect(text).toContain(`token ${PLACEHOLDER}`);
    }
  });

  it('a {basic:<user>} format stored and read back: neither the value nor its base64 comes back', async () => {
    fx.secrets.current = [boundSecret({ header: 'authorization', format: 'Basic {basic:git}' })];
    const { sameTunnel, newTunnel } = await storeThenRead('format', PLACEHOLDER);
    const produced = basicOf('git', BOUND_VALUE);
    expect(remembered.get('format')).toBe(`Basic ${produced}`);
    for (const text of [sameTunnel, newTunnel]) {
      expect(text).not.toContain(BOUND_VALUE);
      expect(text).not.toContain(produced);
    }
  });

  it('Basic credentials the proxy filled in, stored and read back: neither the value nor its base64', async () => {
    fx.secrets.current = [boundSecret()];
    const { sameTunnel, newTunnel } = await storeThenRead(
      'basic',
      `Basic ${basicOf('x-access-token', PLACEHOLDER)}`,
    );
    const produced = basicOf('x-access-token', BOUND_VALUE);
    expect(remembered.get('basic')).toBe(`Basic ${produced}`);
    for (const text of [sameTunnel, newTunnel]) {
      expect(text).not.toContain(BOUND_VALUE);
      expect(text).not.toContain(produced);
    }
  });

  it('a value bound to the host that no request carried is scrubbed too', async () => {
    fx.secrets.current = [
      boundSecret(),
      boundSecret({
        name: 'sibling',
        placeholder: 'wcs_siblingPlaceholder0123456789abcdXY',
        value: () => OTHER_VALUE,
      }),
    ];
    const outcome = await fx.sendInTunnel(
      { path: '/', headers: ['Host', fx.tunnel.authority, 'X-Op', 'read', 'X-Key', 'nothing'] },
      DEADLINE_MS,
    );
    expectAnswer(outcome, 200);
    expect(visible(outcome)).not.toContain(OTHER_VALUE);
  });
});

describe('5. a compressed reflection reaches the container decompressed and scrubbed', () => {
  let fx: HostileProxy;
  let encoding = 'gzip';
  const compress: Record<string, (b: Buffer) => Buffer> = {
    gzip: gzipSync,
    deflate: deflateSync,
    br: brotliCompressSync,
  };
  beforeAll(async () => {
    fx = await startHostileProxy();
    fx.secure.script = (req) => {
      const body = (compress[encoding] ?? gzipSync)(Buffer.from(req.head, 'latin1'));
      return [
        {
          write: Buffer.concat([
            bytes(
              `HTTP/1.1 200 OK\r\nContent-Encoding: ${encoding}\r\nContent-Length: ${body.length}\r\n\r\n`,
            ),
            body,
          ]),
        },
      ];
    };
  });
  afterAll(async () => {
    await fx.close();
  });

  for (const name of ['gzip', 'deflate', 'br']) {
    it(`an upstream that answers ${name} whatever was asked: no value, no Content-Encoding`, async () => {
      encoding = name;
      fx.secrets.current = [boundSecret()];
      const outcome = await fx.send('tls', DEADLINE_MS, [
        'Accept-Encoding',
        name,
        'Authorization',
        `token ${PLACEHOLDER}`,
      ]);
      expectAnswer(outcome, 200);
      if (outcome.kind !== 'response') return;
      expect(visible(outcome)).not.toContain(BOUND_VALUE);
      expect(outcome.headers['content-encoding']).toBeUndefined();
      expect(fx.secure.requests.at(-1)?.header('accept-encoding')).toBe('identity');
      expect(outcome.body.toString('latin1')).toContain(`token ${PLACEHOLDER}`);
    });
  }
});

describe('6. a value in the reason phrase does not reach the container', () => {
  let fx: HostileProxy;
  beforeAll(async () => {
    fx = await startHostileProxy();
    fx.secure.script = () => [
      { write: bytes(`HTTP/1.1 200 ${BOUND_VALUE}\r\nContent-Length: 2\r\n\r\nok`) },
    ];
  });
  afterAll(async () => {
    await fx.close();
  });

  it('HTTP/1.1 200 <value>: the status line the container reads carries no value', async () => {
    const outcome = await fx.send('tls', DEADLINE_MS, ['Authorization', `token ${PLACEHOLDER}`]);
    expectAnswer(outcome, 200);
    if (outcome.kind === 'response') expect(outcome.statusMessage).not.toContain(BOUND_VALUE);
  });
});

describe('7. header and request timeouts hold inside a terminated tunnel', () => {
  let fx: HostileProxy;
  beforeAll(async () => {
    fx = await startHostileProxy({ limits: { headersTimeoutMs: 1_000, requestTimeoutMs: 2_000 } });
    fx.secure.script = () => okAnswer('sane');
  });
  afterAll(async () => {
    await fx.close();
  });

  async function tunnel(): Promise<TLSSocket> {
    const opened = await openTlsTunnel(
      fx.harness.socketPath,
      fx.tunnel.authority,
      BOUND_HOST,
      fx.ca.certificatePem,
      DEADLINE_MS,
    );
    if ('outcome' in opened) throw new Error(describeOutcome(opened.outcome));
    return opened.tls;
  }

  /** Writes `first`, then `drip` every 100 ms; answers ms until the proxy closed, or null by 6 s. */
  async function trickle(first: string, drip: string): Promise<number | null> {
    const tls = await tunnel();
    const started = Date.now();
    let closed: number | null = null;
    tls.on('error', () => undefined);
    tls.on('data', () => undefined);
    tls.once('close', () => (closed = Date.now() - started));
    tls.write(first);
    const timer = setInterval(() => {
      if (!tls.destroyed && tls.writable) tls.write(drip);
    }, 100);
    try {
      await eventually(() => closed !== null, 6_000);
      return closed;
    } finally {
      clearInterval(timer);
      tls.destroy();
    }
  }

  it('a header trickle past headersTimeoutMs ends the connection', async () => {
    const closedAfter = await trickle(
      `GET /slow HTTP/1.1\r\nHost: ${fx.tunnel.authority}\r\n`,
      'X-Drip: 1\r\n',
    );
    expect(closedAfter, 'the connection stayed open').not.toBeNull();
    expect(closedAfter).toBeLessThan(5_000);
  });

  it('a body trickle past requestTimeoutMs ends the connection', async () => {
    const closedAfter = await trickle(
      `POST /slow HTTP/1.1\r\nHost: ${fx.tunnel.authority}\r\nContent-Length: 100000\r\n\r\n`,
      'x',
    );
    expect(closedAfter, 'the connection stayed open').not.toBeNull();
    expect(closedAfter).toBeLessThan(5_000);
  });

  it('a tunnel that sends whole requests keeps working past both limits', async () => {
    const tls = await tunnel();
    const session = new TunnelSession(tls, fx.tunnel.authority);
    try {
      expect((await within(DEADLINE_MS, session.fetch('/a'))).status).toBe(200);
      await new Promise((r) => setTimeout(r, 2_500));
      expect((await within(DEADLINE_MS, session.fetch('/b'))).status).toBe(200);
    } finally {
      session.close();
    }
  });
});

describe('8. an HTTP/1.1 request without Host inside a terminated tunnel answers 400', () => {
  let fx: HostileProxy;
  beforeAll(async () => {
    fx = await startHostileProxy();
    fx.secure.script = () => okAnswer('forwarded');
  });
  afterAll(async () => {
    await fx.close();
  });

  it('GET / HTTP/1.1 with no Host: 400, nothing forwarded', async () => {
    const before = fx.secure.requests.length;
    const outcome = await fx.sendInTunnel({ path: '/relay', headers: [] }, DEADLINE_MS);
    expectAnswer(outcome, 400, 'bad_request');
    expect(fx.secure.requests.length).toBe(before);
  });
});

describe('9. placeholders in disguise are refused, or forwarded and audited as suspected', () => {
  let fx: HostileProxy;
  const OTHER_PLACEHOLDER = 'wcs_otherPlaceholder0123456789abcdefXYZ';
  const other = boundSecret({
    name: 'other',
    placeholder: OTHER_PLACEHOLDER,
    hosts: ['elsewhere.example'],
    value: () => 'other-REAL-value-31f0aa',
  });
  beforeAll(async () => {
    fx = await startHostileProxy();
    fx.plain.script = () => okAnswer('forwarded');
    fx.secure.script = () => okAnswer('forwarded');
    fx.secrets.current = [boundSecret(), other];
  });
  afterAll(async () => {
    await fx.close();
  });

  const percentAll = (text: string): string =>
    [...text].map((c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`).join('');
  /** `%2577cs_...`: the first character encoded twice. */
  const doubleEncoded = (text: string): string =>
    `%25${text.charCodeAt(0).toString(16)}${text.slice(1)}`;

  /** The disguises: extra header list, or a target query, for a placeholder `p`. */
  const disguises = (p: string): [string, { headers?: string[]; query?: string }][] => [
    ['as a header name', { headers: [p, 'x'] }],
    ['double-percent-encoded in the target', { query: `?q=${doubleEncoded(p)}` }],
    ['in another letter case in a header value', { headers: ['X-Token', p.toUpperCase()] }],
    ['percent-encoded in a header value', { headers: ['X-Token', percentAll(p)] }],
  ];

  async function refused(
    path: 'http' | 'tls',
    form: { headers?: string[]; query?: string },
    what: string,
  ): Promise<void> {
    const upstream = path === 'http' ? fx.plain : fx.secure;
    const before = upstream.requests.length;
    const init = fx.request(path, form.headers ?? []);
    const outcome =
      path === 'http'
        ? await viaListener(
            fx.harness.socketPath,
            { ...init, path: `${init.path}${form.query ?? ''}` },
            DEADLINE_MS,
          )
        : await fx.sendInTunnel({ ...init, path: `${init.path}${form.query ?? ''}` }, DEADLINE_MS);
    expect(outcome.kind, `${path} ${what}: ${describeOutcome(outcome)}`).toBe('response');
    if (outcome.kind !== 'response') return;
    expect(outcome.status, `${path} ${what}: ${describeOutcome(outcome)}`).toBe(403);
    expect(errorCode(outcome)).toBe('egress_denied');
    expect(String(outcome.headers['x-workcell-egress-denied'])).toMatch(/^secret-/);
    expect(upstream.requests.length, `${path} ${what}: forwarded`).toBe(before);
  }

  for (const [what, form] of disguises(PLACEHOLDER)) {
    it(`plain HTTP to a host the secret is not bound to, placeholder ${what}: 403`, async () => {
      await refused('http', form, what);
    });
  }

  for (const [what, form] of disguises(OTHER_PLACEHOLDER)) {
    it(`inside a terminated tunnel, another secret's placeholder ${what}: 403`, async () => {
      await refused('tls', form, what);
    });
  }

  it('base64 without Basic, and a placeholder in the body: forwarded, audited as suspected', async () => {
    const cases: [
      'http' | 'tls',
      string,
      string[],
      string | undefined,
      string,
      'base64' | 'body',
    ][] = [
      [
        'http',
        'base64 header',
        ['X-Token', Buffer.from(PLACEHOLDER).toString('base64')],
        undefined,
        'bound',
        'base64',
      ],
      ['http', 'body', [], `{"token":"${PLACEHOLDER}"}`, 'bound', 'body'],
      [
        'tls',
        'base64 header',
        ['X-Token', Buffer.from(OTHER_PLACEHOLDER).toString('base64')],
        undefined,
        'other',
        'base64',
      ],
      ['tls', 'body', [], `{"token":"${OTHER_PLACEHOLDER}"}`, 'other', 'body'],
    ];
    for (const [path, what, headers, body, secret, form] of cases) {
      const upstream = path === 'http' ? fx.plain : fx.secure;
      const before = upstream.requests.length;
      const from = fx.harness.audit.length;
      const outcome = await fx.send(path, DEADLINE_MS, headers, body);
      expectAnswer(outcome, 200);
      expect(upstream.requests.length, `${path} ${what}`).toBe(before + 1);
      const record = await auditAfter(fx, from, (r) => r.route === path && r.status === 200);
      expect(
        (record as AuditRecord & { suspected?: unknown }).suspected,
        `${path} ${what}`,
      ).toEqual([{ secret, form }]);
    }
  });

  it('a request with no placeholder in any form is audited with an empty suspected list', async () => {
    for (const path of ['http', 'tls'] as const) {
      const from = fx.harness.audit.length;
      expectAnswer(await fx.send(path, DEADLINE_MS, ['X-Token', 'nothing-to-see']), 200);
      const record = await auditAfter(fx, from, (r) => r.route === path && r.status === 200);
      expect((record as AuditRecord & { suspected?: unknown }).suspected).toEqual([]);
    }
  });
});

describe('10. the unspecified address can never be unlocked', () => {
  const UNSPECIFIED = [
    '0.0.0.0/16',
    '0.0.0.0/0',
    '0.0.0.0',
    '::/0',
    '::',
    '::/96',
    '::ffff:0.0.0.0/96',
  ];

  it('WORKCELL_EGRESS_ALLOW_PRIVATE refuses every range holding it, naming the variable', () => {
    for (const entry of UNSPECIFIED) {
      let thrown: unknown = null;
      try {
        parseCidrList(`10.1.0.0/16,${entry}`, 'WORKCELL_EGRESS_ALLOW_PRIVATE');
      } catch (err) {
        thrown = err;
      }
      expect(thrown, entry).toBeInstanceOf(WorkcellError);
      expect(String((thrown as Error).message), entry).toContain('WORKCELL_EGRESS_ALLOW_PRIVATE');
      expect(String((thrown as Error).message), entry).toContain(entry);
    }
    expect(parseCidrList('10.1.0.0/16,127.0.0.2', 'WORKCELL_EGRESS_ALLOW_PRIVATE')).toHaveLength(2);
  });

  for (const [address, range] of [
    ['0.0.0.0', '0.0.0.0/16'],
    ['::', '::/96'],
  ] as const) {
    it(`a policy built by hand with ${range}: a name resolving to ${address} is refused, nothing reached`, async () => {
      const canary = await startCanary();
      const harness = await startProxy({ resolve: async () => [address] });
      try {
        harness.policy.current = {
          allow: parseEgressPatterns(`zero.example:${canary.port}`, 'WORKCELL_EGRESS_ALLOW'),
          deny: [],
          allowPrivate: [parseCidr(range) as Cidr],
        };
        const outcome = await viaListener(
          harness.socketPath,
          {
            path: `http://zero.example:${canary.port}/`,
            headers: ['Host', `zero.example:${canary.port}`],
          },
          DEADLINE_MS,
        );
        expectAnswer(outcome, 403, 'egress_denied');
        if (outcome.kind === 'response')
          expect(outcome.headers['x-workcell-egress-denied']).toBe('private-address');
        const opened = await openTunnel(harness.socketPath, `zero.example:${canary.port}`);
        expect('refused' in opened && statusOf(opened.refused)).toBe(403);
        if ('socket' in opened) opened.socket.destroy();
        expect(canary.connections).toBe(0);
      } finally {
        await harness.close();
        await canary.close();
      }
    });
  }
});
