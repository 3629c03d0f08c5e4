import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { LABELS, type GcReport } from '@workcell/host';
import { RedisStateStore } from '../../packages/host/src/state/index.js';
import { SlotStore } from '../../packages/host/src/containers/slots.js';
import { docker, removeDataDir } from '../support/host.js';
import { startScratchRedis } from '../state/redis-server.js';
import { runCli, spawnHost, type ChildHost } from './child-host.js';
import {
  client,
  containersOf,
  dataOf,
  newDataDir,
  removeContainersOf,
  startHost,
  waitFor,
} from './support.js';

const FAILURE_CODES = ['container_failed', 'agent_unavailable', 'agent_failed'];

describe('faults the host survives', () => {
  it('a container killed during a run: the client gets run.failed with a code, and the next message gets a fresh container', async () => {
    const host = await startHost({ warmPoolSize: 1 });
    try {
      const { workspaceId, conversationId } = await host.conversation();
      expect((await host.send(conversationId, 'MOCK:{"text": "warm up"}')).at(-1)?.event).toBe(
        'run.completed',
      );
      const running = host.send(conversationId, 'MOCK:{"sleep_ms": 20000}\nMOCK:{"text": "never"}');
      await waitFor(
        'the run to start',
        async () => (await host.workspace(workspaceId)).container?.state === 'running',
      );
      const killed = (await host.workspace(workspaceId)).container?.id ?? '';
      await docker('kill', killed);

      const events = await running;
      expect(events.at(-1)?.event).toBe('run.failed');
      const failure = dataOf<{ code: string; message: string }>(events, 'run.failed')[0];
      expect(FAILURE_CODES, JSON.stringify(failure)).toContain(failure?.code);
      expect(failure?.message.length).toBeGreaterThan(0);

      const next = await host.send(conversationId, 'MOCK:{"text": "after the kill"}');
      expect(next.at(-1)?.event, JSON.stringify(dataOf(next, 'run.failed'))).toBe('run.completed');
      const fresh = (await host.workspace(workspaceId)).container?.id;
      expect(fresh).toBeDefined();
      expect(fresh).not.toBe(killed);
      await waitFor(
        'the killed container removed',
        async () => (await host.workcell.runtime.inspect(killed)) === null,
      );
    } finally {
      await host.close();
    }
  });

  it('Redis restarted while the host runs: the host reconnects, the next message works, and GC leaves no orphan', async () => {
    const redis = await startScratchRedis();
    const host = await startHost({ redisUrl: redis.url, idleTimeoutMs: 3_600_000 });
    try {
      const { workspaceId, conversationId } = await host.conversation();
      const first = await host.send(
        conversationId,
        'MOCK:{"tool": "Write", "input": {"file_path": "kept.txt", "content": "before the restart"}}',
      );
      expect(first.at(-1)?.event).toBe('run.completed');
      const before = (await host.workspace(workspaceId)).container?.id ?? '';

      await redis.kill();
      await redis.start();
      await waitFor('the state store to answer again', async () => {
        await host.workcell.state.ping();
        return true;
      });

      const next = await host.send(
        conversationId,
        'MOCK:{"tool": "Bash", "input": {"command": "cat kept.txt > again.txt"}}',
      );
      expect(next.at(-1)?.event, JSON.stringify(dataOf(next, 'run.failed'))).toBe('run.completed');
      expect(await host.file(workspaceId, 'again.txt')).toBe('before the restart');
      const after = (await host.workspace(workspaceId)).container?.id ?? '';

      // The container from before the restart has no state now; GC finds it held by this live
      // host, sees its workspace has another container, and removes it.
      host.clock.offsetMs = 5 * 60_000;
      const report = await host.workcell.gc.runOnce();
      expect(report.removed.map((r) => r.id)).toContain(before);
      expect((await containersOf(host.dataDir)).sort()).toEqual([after].sort());
    } finally {
      await host.close();
      await redis.dispose();
    }
  });

  it('kill -9 of the host mid-run, then the host again: it carries the run on in the same container to its end, files synced out, no orphan container', async () => {
    const redis = await startScratchRedis();
    const dataDir = newDataDir();
    const token = `tok_${randomBytes(16).toString('hex')}`;
    const env = {
      WORKCELL_DATA_DIR: dataDir,
      WORKCELL_REDIS_URL: redis.url,
      WORKCELL_HOST_ID: `crash-${randomBytes(3).toString('hex')}`,
      WORKCELL_API_TOKENS: `${token}=tenant`,
      WORKCELL_PORT: '0',
      WORKCELL_WARM_POOL_SIZE: '1',
      WORKCELL_GC_INTERVAL_MS: '3600000',
      WORKCELL_CONTAINER_MEMORY_MB: '512',
      WORKCELL_LOG_LEVEL: 'warn',
      ANTHROPIC_API_KEY: `sk-ant-test-${randomBytes(12).toString('hex')}`,
    };
    const hosts: ChildHost[] = [];
    const state = new RedisStateStore({ url: redis.url });
    try {
      const first = await spawnHost(env);
      hosts.push(first);
      const c1 = client(first.url, token);
      const { workspaceId, conversationId } = await c1.conversation();
      const done = await c1.send(
        conversationId,
        'MOCK:{"tool": "Write", "input": {"file_path": "notes.txt", "content": "completed run"}}',
      );
      expect(done.at(-1)?.event, first.stderr().slice(-2000)).toBe('run.completed');

      await c1.post(
        conversationId,
        [
          'MOCK:{"tool": "Write", "input": {"file_path": "notes.txt", "content": "half-done run"}}',
          'MOCK:{"sleep_ms": 3000}',
          'MOCK:{"text": "carried on"}',
        ].join('\n'),
      );
      await waitFor(
        'the run to start',
        async () => (await c1.workspace(workspaceId)).container?.state === 'running',
      );
      const crashed = (await c1.workspace(workspaceId)).container?.id ?? '';
      const [info] = JSON.parse(await docker('inspect', crashed)) as [
        { Config: { Labels: Record<string, string> } },
      ];
      const inSlot = join(
        new SlotStore(dataDir).slot(info.Config.Labels[LABELS.slot] ?? '').workspaceDir,
        'notes.txt',
      );
      await waitFor(
        'the half-done write',
        () => existsSync(inSlot) && readFileSync(inSlot, 'utf8') === 'half-done run',
      );
      await first.kill9();

      const second = await spawnHost(env);
      hosts.push(second);
      const c2 = client(second.url, token);
      // The host started again (same id) carries the run on in its container, to its end.
      const statuses = async (): Promise<string[]> =>
        (
          (await (await c2.api(`/v1/conversations/${conversationId}`)).json()) as {
            runs: { status: string }[];
          }
        ).runs.map((r) => r.status);
      await waitFor(
        'the run carried on to its end',
        async () => !(await statuses()).includes('running'),
        90_000,
      );
      expect(await statuses(), second.stderr().slice(-3000)).toEqual(['completed', 'completed']);
      expect((await c2.workspace(workspaceId)).container?.id).toBe(crashed);

      const gc = await runCli(['gc', '--once'], env);
      expect(gc.code, gc.stderr.slice(-2000)).toBe(0);
      const report = JSON.parse(gc.stdout) as GcReport;
      expect(report.skipped).toBeUndefined();
      // Every container of the data directory has state, and every record a container.
      const records = (await state.listContainers()).map((r) => r.id).sort();
      expect((await containersOf(dataDir)).sort()).toEqual(records);
      expect(records).toContain(crashed);

      expect(await c2.file(workspaceId, 'notes.txt')).toBe('half-done run');
      const next = await c2.send(
        conversationId,
        'MOCK:{"tool": "Bash", "input": {"command": "cp notes.txt copy.txt"}}',
      );
      expect(next.at(-1)?.event, JSON.stringify(dataOf(next, 'run.failed'))).toBe('run.completed');
      expect(await c2.file(workspaceId, 'copy.txt')).toBe('half-done run');
    } finally {
      for (const h of hosts) await h.kill9();
      await removeContainersOf(dataDir);
      await state.close();
      await redis.dispose();
      await removeDataDir(dataDir);
    }
  });

  // Restarting dockerd kills every container on the machine (no live-restore): this stays last.
  it('dockerd restarted: the host recovers without a restart of its own', async () => {
    const host = await startHost({ warmPoolSize: 1 });
    try {
      const { workspaceId, conversationId } = await host.conversation();
      expect(
        (
          await host.send(
            conversationId,
            'MOCK:{"tool": "Write", "input": {"file_path": "f.txt", "content": "survives"}}',
          )
        ).at(-1)?.event,
      ).toBe('run.completed');
      const before = (await host.workspace(workspaceId)).container?.id ?? '';

      await restartDockerd();

      const next = await host.send(
        conversationId,
        'MOCK:{"tool": "Bash", "input": {"command": "cp f.txt g.txt"}}',
      );
      expect(next.at(-1)?.event, JSON.stringify(dataOf(next, 'run.failed'))).toBe('run.completed');
      const after = (await host.workspace(workspaceId)).container?.id ?? '';
      expect(after).not.toBe(before);
      expect(await host.file(workspaceId, 'g.txt')).toBe('survives');

      const { state, runtime, orchestrator } = host.workcell;
      await waitFor(
        'a live warm container again',
        async () => {
          for (const id of await state.listWarm(orchestrator.pool))
            if ((await runtime.inspect(id))?.running) return true;
          return false;
        },
        30_000,
      );
      const health = await host.wc.health();
      expect(health.docker.ok).toBe(true);
    } finally {
      await host.close();
    }
  });
});

/**
 * Stops dockerd (SIGTERM to the pid in its pid file) and starts it again the way
 * scripts/setup-machine.sh does, then waits for `docker info`.
 */
async function restartDockerd(): Promise<void> {
  const pid = Number(readFileSync('/var/run/docker.pid', 'utf8').trim());
  process.kill(pid, 'SIGTERM');
  await waitFor('dockerd to exit', () => !alive(pid), 90_000, 200);
  rmSync('/var/run/docker.pid', { force: true });
  rmSync('/run/docker/containerd/containerd.pid', { force: true });
  spawn('sh', ['-c', 'nohup dockerd >/var/log/workcell-dockerd.log 2>&1 &'], {
    detached: true,
    stdio: 'ignore',
  }).unref();
  await waitFor(
    'docker info',
    async () => {
      await docker('info');
      return true;
    },
    60_000,
    250,
  );
  await sleep(500);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
