import { execFile } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CredentialProxy,
  parseCidrList,
  parseEgressPatterns,
  type AuditRecord,
  type EgressPolicy,
} from '@workcell/proxy';

/**
 * The hostile egress cases from inside a real workspace container, through the real egress
 * bridge (127.0.0.1:3128 in the container -> /run/workcell-egress/egress.sock -> this proxy). The
 * proxy resolves names on the host with an injected resolver: `good.example` -> 127.0.0.2 (an
 * allowed private range, where a control upstream listens), every other name -> 127.0.0.1.
 * A canary listening on every host address counts each connection the proxy lets through.
 */
const run = promisify(execFile);
const IMAGE = process.env.WORKCELL_IMAGE ?? 'workcell/workspace:0.1.0';
const API_KEY = 'sk-ant-system-test-secret-7c2e91';

async function docker(...args: string[]): Promise<string> {
  const { stdout } = await run('docker', args, { maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}

let containerId = '';
let socketDir = '';
let proxy: CredentialProxy;
let canaryPort = 0;
let canaryConnections = 0;
let canary: ReturnType<typeof createNetServer>;
let control: Server;
let controlPort = 0;
let controlRequests = 0;
const audit: AuditRecord[] = [];
const logLines: string[] = [];
let policy: EgressPolicy;

async function inContainer(...command: string[]): Promise<string> {
  try {
    return await docker('exec', containerId, ...command);
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    return `${e.stdout ?? ''}${e.stderr ?? ''}`;
  }
}

/** Sends each payload as raw bytes to the bridge from inside the container; answers what came back. */
const RAW_CLIENT = `
import base64, json, socket, sys
cases = json.loads(base64.b64decode(sys.argv[1]))
out = {}
for name, payload in cases:
    s = socket.create_connection(("127.0.0.1", 3128), timeout=3)
    s.sendall(payload.encode("latin-1"))
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        pass
    s.close()
    out[name] = data.decode("latin-1")[:400]
print(json.dumps(out))
`;

async function rawFromContainer(cases: Array<[string, string]>): Promise<Record<string, string>> {
  const encoded = Buffer.from(JSON.stringify(cases)).toString('base64');
  const stdout = await inContainer('python3', '-c', RAW_CLIENT, encoded);
  return JSON.parse(stdout) as Record<string, string>;
}

function statusOf(reply: string): number | null {
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(reply);
  return match ? Number(match[1]) : null;
}

beforeAll(async () => {
  await docker('image', 'inspect', IMAGE).catch(() => {
    throw new Error(`the workspace image ${IMAGE} is missing (workcell image build)`);
  });

  canary = createNetServer((socket: Socket) => {
    canaryConnections += 1;
    socket.on('error', () => undefined);
    socket.resume();
    socket.end('HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\ncanary');
  });
  await new Promise<void>((r) => canary.listen({ port: 0, host: '::', ipv6Only: false }, r));
  canaryPort = (canary.address() as AddressInfo).port;

  control = createServer((req, res) => {
    controlRequests += 1;
    if (req.url?.startsWith('/v1/messages')) {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(
        JSON.stringify({ keys: req.headers['x-api-key'] === API_KEY ? 'host-key-only' : 'wrong' }),
      );
      return;
    }
    res.end('control');
  });
  await new Promise<void>((r) => control.listen(0, '127.0.0.2', r));
  controlPort = (control.address() as AddressInfo).port;

  socketDir = mkdtempSync(join(tmpdir(), 'workcell-proxy-system-'));
  // As in a slot: the agent's socket directory is the container user's, the egress socket's the
  // host's alone (mounted read-only).
  mkdirSync(join(socketDir, 'sock'));
  chownSync(join(socketDir, 'sock'), 1000, 1000);
  mkdirSync(join(socketDir, 'egress'), { mode: 0o755 });
  chmodSync(socketDir, 0o755);
  const logger = pino(
    { level: 'trace' },
    new Writable({
      write(chunk: Buffer, _e, done) {
        logLines.push(chunk.toString());
        done();
      },
    }),
  );
  proxy = new CredentialProxy({
    anthropic: { upstream: new URL(`http://127.0.0.2:${controlPort}`), apiKey: () => API_KEY },
    resolve: async (host) => (host === 'good.example' ? ['127.0.0.2'] : ['127.0.0.1']),
    audit: (record) => audit.push(record),
    logger,
  });
  policy = {
    allow: parseEgressPatterns(
      `good.example:${controlPort}, allowed.example, allowed.example:${canaryPort}`,
      'WORKCELL_EGRESS_ALLOW',
    ),
    deny: [],
    allowPrivate: parseCidrList('127.0.0.2/32', 'WORKCELL_EGRESS_ALLOW_PRIVATE'),
  };
  await proxy.listen(
    join(socketDir, 'egress', 'egress.sock'),
    { workspaceId: 'ws-system', containerId: null },
    () => policy,
  );

  containerId = (
    await docker(
      'run',
      '-d',
      '--network',
      'none',
      '--read-only',
      '--tmpfs',
      '/tmp',
      '--tmpfs',
      '/home/agent',
      '--cap-drop',
      'ALL',
      '--security-opt',
      'no-new-privileges',
      '-u',
      '1000:1000',
      '-v',
      `${join(socketDir, 'sock')}:/run/workcell`,
      '-v',
      `${join(socketDir, 'egress')}:/run/workcell-egress:ro`,
      '--add-host',
      'allowed.example:127.0.0.1',
      '--label',
      'workcell.test=proxy-hostile-egress',
      IMAGE,
    )
  ).trim();
  const deadline = Date.now() + 30_000;
  for (;;) {
    const code = await inContainer(
      'curl',
      '-sS',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      '-m',
      '5',
      '-x',
      'http://127.0.0.1:3128',
      `http://good.example:${controlPort}/ready`,
    );
    if (code === '200') break;
    if (Date.now() > deadline)
      throw new Error(`the egress bridge in container ${containerId} never answered (${code})`);
    await new Promise((r) => setTimeout(r, 250));
  }
});

afterAll(async () => {
  if (containerId) await docker('rm', '-f', containerId).catch(() => undefined);
  await proxy?.close();
  await new Promise<void>((r) => canary?.close(() => r()));
  control?.closeAllConnections();
  await new Promise<void>((r) => control?.close(() => r()));
  if (socketDir) rmSync(socketDir, { recursive: true, force: true });
});

describe(`egress from a container (${IMAGE}) through the real bridge`, () => {
  it('reaches an allowed host by CONNECT and by absolute-form GET (the path works)', async () => {
    const before = controlRequests;
    const url = `http://good.example:${controlPort}/control`;
    expect(await inContainer('curl', '-sS', '-m', '10', '-x', 'http://127.0.0.1:3128', url)).toBe(
      'control',
    );
    expect(
      await inContainer('curl', '-sS', '-m', '10', '-p', '-x', 'http://127.0.0.1:3128', url),
    ).toBe('control');
    expect(controlRequests - before).toBe(2);
  });

  it('every hostile destination, as CONNECT and as absolute-form GET, reaches nothing', async () => {
    const p = canaryPort;
    const targets = [
      `127.0.0.1:${p}`,
      `localhost:${p}`,
      `[::1]:${p}`,
      `169.254.169.254:${p}`,
      `2852039166:${p}`,
      `0xa9.0xfe.0xa9.0xfe:${p}`,
      `[::ffff:169.254.169.254]:${p}`,
      `0.0.0.0:${p}`,
      `10.0.0.1:${p}`,
      `192.168.1.1:${p}`,
      `100.64.0.1:${p}`,
      `172.17.0.1:${p}`,
      `allowed.example:${p}`, // allowed name and port; resolves to 127.0.0.1
      `good.example:${p}`, // allowed host, port not allowed
      `allowed.example@127.0.0.1:${p}`,
      `allowed.example.evil.test:${p}`,
    ];
    const cases: Array<[string, string]> = [];
    for (const t of targets) {
      cases.push([
        `CONNECT ${t}`,
        `CONNECT ${t} HTTP/1.1\r\nHost: ${t}\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n`,
      ]);
      cases.push([`GET ${t}`, `GET http://${t}/ HTTP/1.1\r\nHost: ${t}\r\n\r\n`]);
    }
    cases.push(
      [
        'CONNECT with CRLF in the target',
        `CONNECT allowed.example\r\n:${p} HTTP/1.1\r\nHost: allowed.example\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n`,
      ],
      [
        'CONNECT with CRLF and a second target',
        `CONNECT 127.0.0.1:${p}\r\n:${controlPort} HTTP/1.1\r\n\r\n`,
      ],
      [
        'CONNECT with a Host that differs',
        `CONNECT good.example:${controlPort} HTTP/1.1\r\nHost: 127.0.0.1:${p}\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n`,
      ],
      [
        'GET with a Host that differs',
        `GET http://good.example:${controlPort}/ HTTP/1.1\r\nHost: 127.0.0.1:${p}\r\n\r\n`,
      ],
    );
    const before = controlRequests;
    const replies = await rawFromContainer(cases);
    for (const [name] of cases) {
      const reply = replies[name] ?? '';
      expect(
        [400, 403],
        `${name} in container ${containerId}: ${JSON.stringify(reply.slice(0, 200))}`,
      ).toContain(statusOf(reply));
    }
    expect(canaryConnections).toBe(0);
    expect(controlRequests - before).toBe(0);
    const hostile = audit.filter(
      (r) =>
        r.port === canaryPort || r.reason === 'malformed-request' || r.reason === 'host-mismatch',
    );
    expect(hostile.length).toBeGreaterThanOrEqual(targets.length * 2);
    expect(hostile.every((r) => r.decision === 'deny')).toBe(true);
  });

  it('curl as a real client: the same destinations by -x and by -p, none reach the canary', async () => {
    const p = canaryPort;
    const urls = [
      `http://127.0.0.1:${p}/`,
      `http://localhost:${p}/`,
      `http://[::1]:${p}/`,
      `http://169.254.169.254:${p}/`,
      `http://2852039166:${p}/`,
      `http://0xa9.0xfe.0xa9.0xfe:${p}/`,
      `http://[::ffff:169.254.169.254]:${p}/`,
      `http://0.0.0.0:${p}/`,
      `http://10.0.0.1:${p}/`,
      `http://192.168.1.1:${p}/`,
      `http://100.64.0.1:${p}/`,
      `http://172.17.0.1:${p}/`,
      `http://allowed.example:${p}/`,
      `http://good.example:${p}/`,
      `http://allowed.example@127.0.0.1:${p}/`,
      `http://allowed.example.evil.test:${p}/`,
    ];
    const script = [
      'for u in "$@"; do',
      '  a=$(curl -sg -o /dev/null -m 5 -w "%{http_code}" -x http://127.0.0.1:3128 "$u")',
      '  b=$(curl -sg -o /dev/null -m 5 -w "%{http_connect}" -p -x http://127.0.0.1:3128 "$u")',
      `  c=$(curl -sg -o /dev/null -m 5 -w "%{http_code}" -x http://127.0.0.1:3128 -H "Host: 127.0.0.1:${p}" "http://good.example:${controlPort}/")`,
      '  echo "$a $b $c $u"',
      'done',
    ].join('\n');
    const out = await inContainer('sh', '-c', script, 'sh', ...urls);
    const lines = out.trim().split('\n');
    expect(lines).toHaveLength(urls.length);
    for (const line of lines) {
      const [viaGet, viaConnect, hostMismatch] = line.split(' ');
      expect(['400', '403'], `${line} (container ${containerId})`).toContain(viaGet);
      expect(['400', '403'], `${line} (container ${containerId})`).toContain(viaConnect);
      expect(hostMismatch, line).toBe('400');
    }
    expect(canaryConnections).toBe(0);
  });

  it('the Anthropic route from the container carries only the host key, and no secret is logged', async () => {
    const reply = await inContainer(
      'curl',
      '-sS',
      '-m',
      '10',
      '-H',
      'x-api-key: container-placeholder',
      '-H',
      'Authorization: Bearer container-token',
      '-H',
      'content-type: application/json',
      '-d',
      '{}',
      'http://127.0.0.1:3128/_workcell/anthropic/v1/messages',
    );
    expect(JSON.parse(reply)).toEqual({ keys: 'host-key-only' });
    const containerLogs = await docker('logs', containerId).catch(() => '');
    const env = await docker('inspect', '--format', '{{json .Config.Env}}', containerId);
    const haystacks = [...logLines, ...audit.map((r) => JSON.stringify(r)), containerLogs, env];
    expect(haystacks.filter((h) => h.includes(API_KEY))).toEqual([]);
    expect(audit.some((r) => r.route === 'anthropic' && r.credential === 'anthropic-api-key')).toBe(
      true,
    );
  });

  it('the canary does count a leak: with 127.0.0.1 allowed, the same request reaches it (the check can fail)', async () => {
    policy = {
      ...policy,
      allowPrivate: parseCidrList('127.0.0.2/32, 127.0.0.1/32', 'WORKCELL_EGRESS_ALLOW_PRIVATE'),
    };
    const body = await inContainer(
      'curl',
      '-sS',
      '-m',
      '10',
      '-x',
      'http://127.0.0.1:3128',
      `http://allowed.example:${canaryPort}/`,
    );
    expect(body).toBe('canary');
    expect(canaryConnections).toBe(1);
  });
});
