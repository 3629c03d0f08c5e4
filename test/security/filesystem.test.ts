import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHost, type TestHost } from '../support/host.js';
import { RUNTIMES, execIn, inspect, workspaceWithContainer } from './support.js';

/**
 * A hostile agent tries to write outside its workspace, find the Docker socket, or reach
 * another workspace's files and sockets. Two workspaces of the same tenant on one host, each
 * with a marker file: neither container can see the other's.
 */

/** Tries to create a file in each directory of argv; prints `dir errno` (0 = created). */
const WRITE_PROBE = `
import errno, os, sys
for d in sys.argv[1:]:
    p = os.path.join(d, '.workcell-write-probe')
    try:
        with open(p, 'w') as f:
            f.write('x')
        os.unlink(p)
        print(d, 0)
    except OSError as e:
        print(d, e.errno)
`;

/** Every Unix socket under / (outside /proc and /sys), one per line. */
const SOCKET_PROBE = `
import os, stat
for root, dirs, files in os.walk('/', onerror=lambda e: None):
    dirs[:] = [d for d in dirs if os.path.join(root, d) not in ('/proc', '/sys', '/dev')]
    for name in files + dirs:
        p = os.path.join(root, name)
        try:
            st = os.lstat(p)
            if stat.S_ISSOCK(st.st_mode):
                print(p, st.st_uid)
        except OSError:
            pass
`;

/** For each path of argv: `path exists|missing`, and whether a Unix-socket connect works. */
const REACH_PROBE = `
import os, socket, sys
for p in sys.argv[1:]:
    state = 'exists' if os.path.lexists(p) else 'missing'
    if p.endswith('.sock'):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(p)
            state += ' connected'
        except OSError as e:
            state += ' refused-' + str(e.errno)
        finally:
            s.close()
    print(p, state)
`;

function parseLines(text: string): Map<string, string> {
  return new Map(
    text
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const space = line.indexOf(' ');
        return [line.slice(0, space), line.slice(space + 1)] as [string, string];
      }),
  );
}

describe.each(RUNTIMES)('filesystem isolation (%s)', (runtime) => {
  let host: TestHost;
  const markerA = `marker-a-${randomBytes(12).toString('hex')}`;
  const markerB = `marker-b-${randomBytes(12).toString('hex')}`;
  let a: { workspaceId: string; containerId: string };
  let b: { workspaceId: string; containerId: string };

  beforeAll(async () => {
    host = await startTestHost({ runtime, anthropicApiKey: 'sk-ant-filesystem-test-0123456789' });
    a = await workspaceWithContainer(host, { 'marker-a.txt': `${markerA}\n` });
    b = await workspaceWithContainer(host, { 'marker-b.txt': `${markerB}\n` });
    expect(a.containerId).not.toBe(b.containerId);
  });

  afterAll(async () => {
    await host?.close();
  });

  it('the root filesystem is read-only; only /workspace, /tmp, the home and the session directory are writable', async () => {
    const dirs = [
      '/',
      '/etc',
      '/usr/local/bin',
      '/opt/workcell',
      '/var/tmp',
      '/workspace',
      '/tmp',
      '/home/agent',
      '/var/lib/workcell/claude',
    ];
    const r = await execIn(b.containerId, `python3 - ${dirs.join(' ')}`, { stdin: WRITE_PROBE });
    const results = parseLines(r.stdout);
    for (const dir of ['/', '/etc', '/usr/local/bin', '/opt/workcell', '/var/tmp']) {
      // runc answers EROFS (30): the read-only mount refuses before permissions are checked.
      // gVisor's kernel checks permissions first and answers EACCES (13) for these root-owned
      // directories; the root mount is read-only there too (asserted below).
      expect(runtime === 'runc' ? ['30'] : ['30', '13'], dir).toContain(results.get(dir));
    }
    for (const dir of ['/workspace', '/tmp', '/home/agent', '/var/lib/workcell/claude'])
      expect(results.get(dir), dir).toBe('0');
    const mountinfo = await execIn(b.containerId, 'cat /proc/self/mountinfo');
    const root = mountinfo.stdout.split('\n').find((line) => line.split(' ')[4] === '/');
    expect(root, 'the root mount').toBeDefined();
    expect(root!.split(' ')[5]!.split(',')).toContain('ro');
  });

  it('has no Docker socket: its only sockets are its own agent and egress sockets', async () => {
    const r = await execIn(b.containerId, 'python3 -', { stdin: SOCKET_PROBE, timeoutMs: 60_000 });
    const sockets = r.stdout
      .trim()
      .split('\n')
      .map((line) => line.split(' '));
    // The Claude Code CLI the agent keeps ready makes its own sockets in the container's /tmp: a
    // tmpfs of the container (no host directory), owned by the container's user.
    const mounts = await execIn(b.containerId, 'cat /proc/self/mounts');
    expect(mounts.stdout).toMatch(/^\S+ \/tmp tmpfs /m);
    const own = sockets.filter(([path]) => path!.startsWith('/tmp/'));
    for (const [path, uid] of own) expect(uid, path).toBe('1000');
    expect(
      sockets
        .filter(([path]) => !path!.startsWith('/tmp/'))
        .map(([path]) => path)
        .sort(),
    ).toEqual(['/run/workcell-egress/egress.sock', '/run/workcell/agent.sock']);
    const env = await execIn(b.containerId, 'env');
    expect(env.stdout).not.toMatch(/DOCKER_HOST|CONTAINERD/);
  });

  it("mounts only its own slot's directories from the host", async () => {
    const [infoA, infoB] = [await inspect(a.containerId), await inspect(b.containerId)];
    const slotOf = (source: string): string =>
      source.slice(host.dataDir.length).split('/').slice(0, 3).join('/');
    const slotsB = new Set(
      infoB!.Mounts.filter((m) => m.Type === 'bind').map((m) => slotOf(m.Source)),
    );
    const slotsA = new Set(
      infoA!.Mounts.filter((m) => m.Type === 'bind').map((m) => slotOf(m.Source)),
    );
    expect(slotsB.size).toBe(1);
    expect(slotsA.size).toBe(1);
    expect([...slotsB][0]).not.toBe([...slotsA][0]);
    for (const m of infoB!.Mounts)
      expect(m.Source.startsWith(`${host.dataDir}/containers/`), m.Source).toBe(true);
  });

  it("workspace A's files never appear in B's container, and A's paths and sockets cannot be reached", async () => {
    const scan =
      'grep -rlaF -D skip -f /dev/stdin / --exclude-dir=proc --exclude-dir=sys --exclude-dir=dev 2>/dev/null; echo scanned';
    // Control: the scan finds A's marker in A's own container.
    const inA = await execIn(a.containerId, scan, { stdin: `${markerA}\n`, timeoutMs: 120_000 });
    expect(inA.stdout).toContain('/workspace/marker-a.txt');
    const inB = await execIn(b.containerId, scan, { stdin: `${markerA}\n`, timeoutMs: 120_000 });
    expect(inB.stdout.trim()).toBe('scanned');
    const listing = await execIn(b.containerId, 'find /workspace -maxdepth 1 -name "marker-*"');
    expect(listing.stdout.trim()).toBe('/workspace/marker-b.txt');

    // A's host-side directories and sockets, by their real host paths, do not exist in B.
    const infoA = await inspect(a.containerId);
    const hostPathsA = infoA!.Mounts.map((m) => m.Source);
    const socketsA = hostPathsA
      .filter((p) => p.endsWith('/sock'))
      .flatMap((p) => [`${p}/agent.sock`, `${p}/egress.sock`]);
    const probe = await execIn(
      b.containerId,
      `python3 - ${[...hostPathsA, ...socketsA, host.dataDir].join(' ')}`,
      {
        stdin: REACH_PROBE,
      },
    );
    const reach = parseLines(probe.stdout);
    expect(reach.size).toBe(hostPathsA.length + socketsA.length + 1);
    for (const [path, state] of reach) expect(state, path).toMatch(/^missing( refused-2)?$/);
  });
});
