import { setTimeout as sleep } from 'node:timers/promises';
import { createServer, type Server } from 'node:net';
import { networkInterfaces } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { docker, startTestHost, type TestHost } from '../support/host.js';
import {
  RUNTIMES,
  execIn,
  removeContainer,
  unhardenedContainer,
  workspaceWithContainer,
} from './support.js';

/**
 * A hostile agent tries to reach anything but its egress socket: the host's addresses, the
 * Docker bridge gateway, the cloud metadata address, a neighbouring container, the internet.
 * Workspace containers have no network interface but loopback, so every attempt fails; the
 * same attempts from an ordinary bridge container succeed, which proves the targets answer.
 */

/** Connects (TCP) to each `host:port` of argv[1] (JSON) with a 2 s timeout; prints JSON results. */
const CONNECT_PROBE = `
import json, socket, sys
out = []
for target in json.loads(sys.argv[1]):
    host, port = target.rsplit(':', 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect((host, int(port)))
        out.append({'target': target, 'ok': True})
    except OSError as e:
        out.append({'target': target, 'ok': False, 'error': type(e).__name__ + ': ' + str(e)})
    finally:
        s.close()
print(json.dumps(out))
`;

/** Resolves a name and sends one UDP datagram to a public resolver; prints what happened. */
const DNS_AND_UDP_PROBE = `
import json, socket
out = {}
try:
    out['resolve'] = socket.gethostbyname('registry.npmjs.org')
except OSError as e:
    out['resolveError'] = str(e)
try:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(b'x', ('8.8.8.8', 53))
    out['udp'] = 'sent'
except OSError as e:
    out['udpError'] = str(e)
print(json.dumps(out))
`;

/** Opens a raw ICMP socket and a packet socket; prints the errors. */
const RAW_PROBE = `
import json, socket
out = {}
for name, args in [('icmp', (socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)), ('packet', (socket.AF_PACKET, socket.SOCK_RAW, 0))]:
    try:
        socket.socket(*args).close()
        out[name] = 'opened'
    except OSError as e:
        out[name] = e.errno
print(json.dumps(out))
`;

interface ConnectResult {
  target: string;
  ok: boolean;
  error?: string;
}

async function probeConnect(containerId: string, targets: string[]): Promise<ConnectResult[]> {
  const r = await execIn(containerId, `python3 - '${JSON.stringify(targets)}'`, {
    stdin: CONNECT_PROBE,
    timeoutMs: 60_000,
  });
  if (r.code !== 0) throw new Error(`probe failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as ConnectResult[];
}

/** The machine's own non-loopback IPv4 addresses (eth0, docker0, ...). */
function hostAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flat()
    .filter((a) => a !== undefined && a.family === 'IPv4' && !a.internal)
    .map((a) => a!.address);
}

describe('network: a workspace container reaches nothing but its egress socket', () => {
  let listener: Server;
  let listenerPort: number;
  let neighbour: string | undefined;
  let neighbourIp: string;
  let control: string | undefined;
  let targets: string[];

  beforeAll(async () => {
    // A TCP listener on every host address, and a neighbouring container serving HTTP.
    listener = createServer((socket) => {
      socket.on('error', () => undefined);
      socket.end('hello\n');
    });
    await new Promise<void>((resolve) => listener.listen(0, '0.0.0.0', resolve));
    listenerPort = (listener.address() as { port: number }).port;
    neighbour = await unhardenedContainer({ user: '1000:1000' });
    await execIn(neighbour, 'nohup python3 -m http.server 8000 --bind 0.0.0.0 >/dev/null 2>&1 &');
    neighbourIp = (
      await docker('inspect', '--format', '{{.NetworkSettings.IPAddress}}', neighbour)
    ).trim();
    expect(neighbourIp).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    targets = [
      ...hostAddresses().map((ip) => `${ip}:${listenerPort}`),
      `172.17.0.1:${listenerPort}`,
      '172.17.0.1:2375',
      `${neighbourIp}:8000`,
      '169.254.169.254:80',
      '1.1.1.1:443',
      '10.0.0.1:80',
    ];
    control = await unhardenedContainer({ user: '1000:1000' });
  });

  afterAll(async () => {
    await removeContainer(neighbour);
    await removeContainer(control);
    await new Promise((resolve) => listener?.close(resolve));
  });

  it('control: from an ordinary bridge container, the host listener and the neighbour answer', async () => {
    const results = await probeConnect(control!, [
      `172.17.0.1:${listenerPort}`,
      `${neighbourIp}:8000`,
    ]);
    expect(results.map((r) => r.ok)).toEqual([true, true]);
  });

  describe.each(RUNTIMES)('under %s', (runtime) => {
    let host: TestHost;
    let workspaceId: string;
    let containerId: string;

    beforeAll(async () => {
      host = await startTestHost({ runtime, anthropicApiKey: 'sk-ant-network-test-0123456789' });
      ({ workspaceId, containerId } = await workspaceWithContainer(host));
    });

    afterAll(async () => {
      await host?.close();
    });

    it('has loopback as its only interface and no route', async () => {
      const r = await execIn(containerId, 'cat /proc/net/dev; echo ==; cat /proc/net/route');
      const [dev = '', route = ''] = r.stdout.split('==\n');
      const interfaces = dev
        .split('\n')
        .slice(2)
        .map((line) => line.split(':')[0]?.trim())
        .filter(Boolean);
      expect(interfaces).toEqual(['lo']);
      expect(route.trim().split('\n').slice(1).filter(Boolean)).toEqual([]);
    });

    it("cannot connect to the host's addresses, the bridge gateway, metadata, a neighbour or the internet", async () => {
      const results = await probeConnect(containerId, targets);
      expect(results).toHaveLength(targets.length);
      for (const r of results) {
        expect(r, r.target).toMatchObject({ ok: false });
        // Refused for want of a route, not by a listener: nothing answers from inside.
        expect(r.error, r.target).toMatch(/unreachable|No route to host|timed out/i);
      }
    });

    it('cannot resolve names or send UDP', async () => {
      const r = await execIn(containerId, 'python3 -', { stdin: DNS_AND_UDP_PROBE });
      const out = JSON.parse(r.stdout) as Record<string, string>;
      expect(out.resolve).toBeUndefined();
      expect(out.resolveError).toBeTruthy();
      expect(out.udp).toBeUndefined();
      expect(out.udpError).toBeTruthy();
    });

    it('cannot open raw or packet sockets, and ping reaches nothing', async () => {
      const raw = await execIn(containerId, 'python3 -', { stdin: RAW_PROBE });
      const out = JSON.parse(raw.stdout) as Record<string, unknown>;
      // EPERM (1) for a raw socket without CAP_NET_RAW; gVisor may refuse packet sockets as
      // unsupported (EAFNOSUPPORT 97, EPERM) rather than as unprivileged.
      expect(out.icmp).toBe(1);
      expect(out.packet).not.toBe('opened');
      for (const target of ['172.17.0.1', '1.1.1.1', '169.254.169.254']) {
        const ping = await execIn(containerId, `ping -c 1 -W 1 ${target}`, { timeoutMs: 10_000 });
        expect(ping.code, `ping ${target}: ${ping.stdout}${ping.stderr}`).not.toBe(0);
      }
    });

    it('its egress socket refuses a host that is not allowlisted, and the refusal is audited', async () => {
      const r = await execIn(
        containerId,
        'curl -sS -o /dev/null -w "%{http_connect}" --max-time 10 --proxy http://127.0.0.1:3128 https://example.com/ || true',
        { timeoutMs: 20_000 },
      );
      expect(r.stdout.trim()).toBe('403');
      // A tunnel's record is emitted when the proxy's side of the connection closes.
      const deadline = Date.now() + 5_000;
      const denied = () =>
        host.workcell.audit
          .recent(workspaceId)
          .filter((a) => a.host === 'example.com' && a.decision === 'deny');
      while (denied().length === 0 && Date.now() < deadline) await sleep(50);
      expect(denied().length).toBeGreaterThan(0);
    });
  });
});
