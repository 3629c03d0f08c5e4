import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { docker, startTestHost, type TestHost } from '../support/host.js';
import {
  RUNTIMES,
  cgroupFile,
  containerOf,
  execIn,
  hostAnswers,
  inspect,
  runCompletes,
  workspaceWithContainer,
  type RuntimeName,
} from './support.js';

/**
 * A hostile agent tries to exhaust the machine: CPU, memory, processes. Each workspace
 * container has its own limits (cgroups), so the hog is held inside its container while the
 * host's API and another workspace keep answering. Limits are small here to make the tests
 * quick. Under gVisor the container's cgroup holds the whole sandbox (its kernel and, on the
 * ptrace platform, one host thread per guest thread), so a process or memory hog that reaches
 * the limit ends the sandbox itself; the host and the other workspace are unaffected and the
 * workspace gets a new container on its next message.
 */

const CPUS = 0.5;
const MEMORY_MB = 512;
/** runc counts the container's processes and threads; gVisor's ptrace platform counts the
 *  sandbox's host threads (about 170 after one SDK run), so it needs the default headroom. */
const PIDS: Record<RuntimeName, number> = { runc: 128, runsc: 512 };

function cpuUsageNs(containerId: string): number {
  const text = cgroupFile(containerId, 'cpuacct', 'cpuacct.usage');
  if (text === null) throw new Error(`no cpuacct cgroup for ${containerId}`);
  return Number(text.trim());
}

function cgroupCounter(text: string | null, name: string): number {
  const line = (text ?? '').split('\n').find((l) => l.startsWith(`${name} `));
  return Number(line?.split(' ')[1] ?? NaN);
}

/** The engine's `oom` events for a container since `since` (epoch seconds). */
async function oomEvents(containerId: string, since: number): Promise<number> {
  const out = await docker(
    'events',
    '--since',
    String(since),
    '--until',
    String(Math.ceil(Date.now() / 1000) + 1),
    '--filter',
    `container=${containerId}`,
    '--filter',
    'event=oom',
    '--format',
    '{{.Action}}',
  );
  return out.split('\n').filter((line) => line === 'oom').length;
}

/** Waits until the container stops running, or `timeoutMs` passes; answers whether it stopped. */
async function stops(containerId: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const info = await inspect(containerId);
    if (!info || !info.State.Running) return true;
    await sleep(250);
  }
  return false;
}

describe.each(RUNTIMES)('resource limits (%s)', (runtime) => {
  let host: TestHost;
  let a: { workspaceId: string; conversationId: string; containerId: string };
  let b: { workspaceId: string; conversationId: string; containerId: string };

  beforeAll(async () => {
    host = await startTestHost({
      runtime,
      anthropicApiKey: 'sk-ant-resources-test-0123456789',
      containerCpus: CPUS,
      containerMemoryMb: MEMORY_MB,
      containerPids: PIDS[runtime],
    });
    a = await workspaceWithContainer(host);
    b = await workspaceWithContainer(host);
  });

  afterAll(async () => {
    await host?.close();
  });

  it('a CPU hog is held to its quota while the host and another workspace keep answering', async () => {
    const throttledBefore = cgroupCounter(
      cgroupFile(a.containerId, 'cpu', 'cpu.stat'),
      'nr_throttled',
    );
    const hog = execIn(
      a.containerId,
      'for i in 1 2 3 4; do timeout 7 sh -c "while :; do :; done" & done; wait',
      {
        timeoutMs: 30_000,
      },
    );
    await sleep(1_000);
    const u0 = cpuUsageNs(a.containerId);
    const t0 = process.hrtime.bigint();
    await hostAnswers(host);
    await runCompletes(host, b.conversationId, 'MOCK:{"text": "still here"}');
    await sleep(Math.max(0, 4_000 - Number(process.hrtime.bigint() - t0) / 1e6));
    const cores = (cpuUsageNs(a.containerId) - u0) / Number(process.hrtime.bigint() - t0);
    await hog;
    // Four busy loops on a two-core machine would take ~2 cores; the quota holds them to 0.5.
    expect(cores).toBeGreaterThan(CPUS * 0.6);
    expect(cores).toBeLessThan(CPUS * 1.2);
    const throttledAfter = cgroupCounter(
      cgroupFile(a.containerId, 'cpu', 'cpu.stat'),
      'nr_throttled',
    );
    expect(throttledAfter).toBeGreaterThan(throttledBefore);
  });

  it('a memory hog is OOM-killed inside its container while the host and another workspace keep answering', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    const hog = await execIn(
      a.containerId,
      'python3 -c "a = []\nwhile True: a.append(bytearray(10**7))"',
      {
        timeoutMs: runtime === 'runc' ? 60_000 : 10_000,
      },
    );
    await hostAnswers(host);
    await runCompletes(host, b.conversationId, 'MOCK:{"text": "still here"}');
    if (runtime === 'runc') {
      // The kernel's OOM killer takes the hog, inside the container's cgroup; the agent lives on.
      expect(hog.code).toBe(137);
      expect(
        cgroupCounter(cgroupFile(a.containerId, 'memory', 'memory.oom_control'), 'oom_kill'),
      ).toBeGreaterThan(0);
      expect(await oomEvents(a.containerId, since)).toBeGreaterThan(0);
      expect((await inspect(a.containerId))?.State.Running).toBe(true);
      await runCompletes(host, a.conversationId, 'MOCK:{"text": "recovered"}');
      expect(await containerOf(host, a.workspaceId)).toBe(a.containerId);
    } else {
      // The sandbox as a whole reaches the limit and is OOM-killed; nothing outside it is.
      expect(await stops(a.containerId, 20_000)).toBe(true);
      expect(await oomEvents(a.containerId, since)).toBeGreaterThan(0);
      await runCompletes(host, a.conversationId, 'MOCK:{"text": "recovered"}');
      a.containerId = await containerOf(host, a.workspaceId);
    }
  });

  it('a fork bomb is stopped by the pids limit while the host and another workspace keep answering', async () => {
    const before = cgroupCounter(cgroupFile(a.containerId, 'pids', 'pids.events'), 'max');
    const bomb = execIn(
      a.containerId,
      "timeout 8 bash -c ':(){ :|:& };:' >/dev/null 2>&1; echo ended",
      { timeoutMs: 20_000 },
    );
    await sleep(3_000);
    const limit = Number(cgroupFile(a.containerId, 'pids', 'pids.max') ?? NaN);
    const current = cgroupFile(a.containerId, 'pids', 'pids.current');
    const refused = cgroupCounter(cgroupFile(a.containerId, 'pids', 'pids.events'), 'max');
    await hostAnswers(host);
    await runCompletes(host, b.conversationId, 'MOCK:{"text": "still here"}');
    await bomb;
    if (runtime === 'runc') {
      expect(limit).toBe(PIDS.runc);
      expect(Number(current)).toBeLessThanOrEqual(limit);
      // The limit refused forks: the bomb hit the ceiling and stayed under it.
      expect(refused).toBeGreaterThan(before);
    } else {
      // The sandbox's host threads reach the limit and the sandbox ends.
      expect(await stops(a.containerId, 20_000)).toBe(true);
    }
    // The bomb's orphans outlive the timeout; the workspace gets a new container.
    await docker('rm', '-f', a.containerId).catch(() => '');
    await runCompletes(host, a.conversationId, 'MOCK:{"text": "recovered"}');
    expect(await containerOf(host, a.workspaceId)).not.toBe(a.containerId);
  });
});
