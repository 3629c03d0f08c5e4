import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHost, type TestHost } from '../support/host.js';
import {
  RUNTIMES,
  execIn,
  removeContainer,
  unhardenedContainer,
  workspaceWithContainer,
} from './support.js';

/**
 * A hostile agent tries to gain privilege: it runs as uid 1000 with no capabilities and
 * no_new_privs, so setuid binaries run with its own uid, and mount and namespaces are refused.
 * Controls in an unhardened container show the same probes do detect privilege.
 */

/** Capability lines of /proc/<pid>/status for every process, `pid name value`. */
const CAPS_PROBE =
  'for s in /proc/[0-9]*/status; do awk -v p="$s" \'/^Cap(Inh|Prm|Eff|Bnd|Amb):/ {print p, $1, $2}\' "$s"; done';

/** PR_GET_NO_NEW_PRIVS (39) through libc; prints 1 when set. */
const NNP_PROBE = 'python3 -c "import ctypes; print(ctypes.CDLL(None).prctl(39, 0, 0, 0, 0))"';

/**
 * Starts the setuid-root `passwd` (it blocks reading a password from a pipe) and prints its
 * real, effective, saved and filesystem uids: `1000 0 0 0` would mean setuid raised privilege.
 */
const SETUID_PROBE =
  'sleep 1.5 | passwd >/dev/null 2>&1 & sleep 0.7; p=$(pgrep -n passwd); grep "^Uid:" /proc/$p/status';

describe.each(RUNTIMES)('privilege (%s)', (runtime) => {
  let host: TestHost;
  let containerId: string;

  beforeAll(async () => {
    host = await startTestHost({ runtime, anthropicApiKey: 'sk-ant-privilege-test-0123456789' });
    ({ containerId } = await workspaceWithContainer(host));
  });

  afterAll(async () => {
    await host?.close();
  });

  it('runs as uid and gid 1000 with no other groups', async () => {
    const r = await execIn(containerId, 'id -u; id -g; id -G');
    expect(r.stdout).toBe('1000\n1000\n1000\n');
    // The agent itself, not only this exec: every process in the container is uid 1000.
    const uids = await execIn(
      containerId,
      "cat /proc/[0-9]*/status | awk '/^Uid:/ {print $2, $3, $4, $5}' | sort -u",
    );
    expect(uids.stdout.trim()).toBe('1000 1000 1000 1000');
  });

  it('no process has any capability', async () => {
    const r = await execIn(containerId, CAPS_PROBE);
    const lines = r.stdout.trim().split('\n');
    const kinds = new Set(lines.map((l) => l.split(' ')[1]));
    // gVisor's /proc shows no CapAmb line; the four others appear under both runtimes.
    for (const kind of ['CapInh:', 'CapPrm:', 'CapEff:', 'CapBnd:']) expect(kinds).toContain(kind);
    for (const line of lines) expect(line.split(' ')[2], line).toBe('0000000000000000');
  });

  it('has no_new_privs set, so a setuid-root binary runs with uid 1000', async () => {
    expect((await execIn(containerId, NNP_PROBE)).stdout.trim()).toBe('1');
    if (runtime === 'runc')
      expect((await execIn(containerId, 'grep NoNewPrivs /proc/self/status')).stdout).toMatch(
        /NoNewPrivs:\s+1/,
      );
    const setuid = await execIn(containerId, 'find / -xdev -perm -4000 -type f 2>/dev/null');
    expect(setuid.stdout).toContain('/usr/bin/passwd');
    const probe = await execIn(containerId, SETUID_PROBE);
    expect(probe.stdout).toMatch(/^Uid:\s+1000\s+1000\s+1000\s+1000\s*$/);
  });

  it('mount and new namespaces are refused', async () => {
    // runc filters system calls with Docker's default seccomp profile; gVisor's kernel serves
    // them itself and shows no filter.
    const seccomp = await execIn(containerId, 'grep "^Seccomp:" /proc/self/status');
    expect(seccomp.stdout).toMatch(runtime === 'runc' ? /Seccomp:\s+2/ : /Seccomp:\s+0/);
    const mount = await execIn(containerId, 'mkdir -p /tmp/m && mount -t tmpfs none /tmp/m');
    expect(mount.code).not.toBe(0);
    expect(mount.stderr).toMatch(/must be superuser|permission denied|not permitted/i);
    for (const flags of ['-n', '-m', '-p -f', '-i']) {
      const r = await execIn(containerId, `unshare ${flags} true`);
      expect(r.code, `unshare ${flags}: ${r.stderr}`).not.toBe(0);
    }
    const userns = await execIn(containerId, 'unshare -r sh -c "id -u; touch /etc/pwned"');
    if (runtime === 'runc') {
      // Docker's seccomp profile refuses user namespaces to a process without CAP_SYS_ADMIN.
      expect(userns.code).not.toBe(0);
      expect(userns.stderr).toMatch(/Operation not permitted/);
    } else {
      // gVisor implements user namespaces inside its own kernel and allows them; "root" in one
      // holds nothing of the host's: the root filesystem stays read-only.
      expect(userns.stdout.trim()).toBe('0');
      expect(userns.code).not.toBe(0);
      expect(userns.stderr).toMatch(/Read-only file system|Permission denied/);
    }
  });
});

describe('controls: the same probes detect privilege in an unhardened container', () => {
  let asRoot: string | undefined;
  let asUser: string | undefined;

  beforeAll(async () => {
    asRoot = await unhardenedContainer({ user: '0:0' });
    asUser = await unhardenedContainer({ user: '1000:1000' });
  });

  afterAll(async () => {
    await removeContainer(asRoot);
    await removeContainer(asUser);
  });

  it("root with Docker's default capabilities shows them, and no_new_privs is unset", async () => {
    const caps = await execIn(asRoot!, CAPS_PROBE);
    expect(caps.stdout).toMatch(/CapEff: (?!0000000000000000)[0-9a-f]{16}/);
    expect((await execIn(asRoot!, NNP_PROBE)).stdout.trim()).toBe('0');
  });

  it('without no_new_privs, the setuid-root binary runs with effective uid 0', async () => {
    const probe = await execIn(asUser!, SETUID_PROBE);
    expect(probe.stdout).toMatch(/^Uid:\s+1000\s+0\s+0\s+0\s*$/);
  });
});
