import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { docker, removeDataDir } from '../support/host.js';
import type { SseEvent } from '../support/sse.js';
import { follow, followToEnd, seqs } from '../support/follow-run.js';
import { startScratchRedis, type ScratchRedis } from '../state/redis-server.js';
import { spawnHost, type ChildHost } from '../orchestrator/child-host.js';
import { RedisStateStore } from '../../packages/host/src/state/index.js';
import {
  client,
  dataOf,
  newDataDir,
  removeContainersOf,
  waitFor,
  type Client,
} from '../orchestrator/support.js';

/** The attach lease's TTL (the workspace lock's, a fixed setting of the host). */
const LEASE_TTL_MS = 30_000;

/** How many times a host logged the sync out of the hold of `runId`. */
function syncOuts(logs: string, runId: string): number {
  return logs
    .split('\n')
    .filter((l) => l.includes('"files synced out"') && l.includes(`"holder":"${runId}"`)).length;
}

interface Installation {
  redis: ScratchRedis;
  dataDir: string;
  token: string;
  env: (hostId: string) => Record<string, string>;
}

async function installation(): Promise<Installation> {
  const redis = await startScratchRedis();
  const dataDir = newDataDir();
  const token = `tok_${randomBytes(16).toString('hex')}`;
  const apiKey = `sk-ant-test-${randomBytes(12).toString('hex')}`;
  return {
    redis,
    dataDir,
    token,
    env: (hostId) => ({
      WORKCELL_DATA_DIR: dataDir,
      WORKCELL_REDIS_URL: redis.url,
      WORKCELL_HOST_ID: hostId,
      WORKCELL_API_TOKENS: `${token}=tenant`,
      WORKCELL_PORT: '0',
      WORKCELL_WARM_POOL_SIZE: '0',
      WORKCELL_GC_INTERVAL_MS: '3600000',
      WORKCELL_CONTAINER_MEMORY_MB: '512',
      WORKCELL_LOG_LEVEL: 'info',
      ANTHROPIC_API_KEY: apiKey,
    }),
  };
}

/** The events named `name` among `events`. */
const named = (events: SseEvent[], name: string): SseEvent[] =>
  events.filter((e) => e.event === name);

/**
 * A run outlives the host that started it: hosts share one Redis and one data directory (one
 * machine, as a rolling deploy or a crash leaves it), and the run goes on in its container.
 */
describe('a run outlives its host', () => {
  const hosts: ChildHost[] = [];
  let inst: Installation | null = null;
  const logs = (): string => hosts.map((h) => h.stderr()).join('\n');

  afterEach(async () => {
    for (const h of hosts.splice(0)) await h.kill9();
    if (!inst) return;
    await removeContainersOf(inst.dataDir);
    await inst.redis.dispose();
    await removeDataDir(inst.dataDir);
    inst = null;
  });

  it('SIGTERM mid-run, the same host started again: the run completes, a resuming client sees every event once, files synced out once', async () => {
    inst = await installation();
    const hostId = `deploy-${randomBytes(3).toString('hex')}`;
    const first = await spawnHost(inst.env(hostId));
    hosts.push(first);
    const c1 = client(first.url, inst.token);
    const { workspaceId, conversationId } = await c1.conversation();
    const runId = await c1.post(
      conversationId,
      [
        'MOCK:{"tool": "Write", "input": {"file_path": "before.txt", "content": "before the deploy"}}',
        'MOCK:{"tool": "Bash", "input": {"command": "sleep 6 && echo after the deploy > after.txt"}}',
        'MOCK:{"sleep_ms": 2000}',
        'MOCK:{"text": "carried on"}',
      ].join('\n'),
    );
    // Read until the Write tool's result came back: the agent is in the Bash call.
    const seen = await follow(c1, conversationId, runId, 0, (e) => {
      if (e.event !== 'message') return false;
      return (JSON.parse(e.data) as { type?: string }).type === 'user';
    });
    expect(seen[0]?.event, logs().slice(-3000)).toBe('run.started');

    const signalled = Date.now();
    await first.stop();
    expect(first.child.exitCode, logs().slice(-3000)).toBe(0);
    expect(Date.now() - signalled).toBeLessThan(10_000);

    const again = await spawnHost(inst.env(hostId));
    hosts.push(again);
    const c2 = client(again.url, inst.token);
    const rest = await followToEnd(() => c2, conversationId, runId, Number(seen.at(-1)?.id));
    const all = [...seen, ...rest];
    expect(seqs(all), logs().slice(-4000)).toEqual(all.map((_, i) => i + 1));
    expect(all.at(-1)?.event, JSON.stringify(dataOf(all, 'run.failed'))).toBe('run.completed');
    expect(JSON.parse(all.at(-1)?.data ?? '{}')).toMatchObject({ result: 'carried on' });

    // The recorded history is the same events, the files are stored, synced out once.
    const history = (await (
      await c2.api(`/v1/conversations/${conversationId}/messages`)
    ).json()) as { runs: { runId: string; events: { seq: number }[] }[] };
    expect(history.runs.find((r) => r.runId === runId)?.events.map((e) => e.seq)).toEqual(
      seqs(all),
    );
    expect(await c2.file(workspaceId, 'before.txt')).toBe('before the deploy');
    expect(await c2.file(workspaceId, 'after.txt')).toBe('after the deploy\n');
    expect(syncOuts(logs(), runId)).toBe(1);

    const next = await c2.send(conversationId, 'MOCK:{"text": "next"}');
    expect(next.at(-1)?.event, JSON.stringify(dataOf(next, 'run.failed'))).toBe('run.completed');
  });

  it('kill -9 mid-run: another host adopts the run once the lease expires, and it completes', async () => {
    inst = await installation();
    const a = await spawnHost(inst.env(`crash-a-${randomBytes(3).toString('hex')}`));
    hosts.push(a);
    const b = await spawnHost(inst.env(`crash-b-${randomBytes(3).toString('hex')}`));
    hosts.push(b);
    const ca = client(a.url, inst.token);
    const cb = client(b.url, inst.token);
    const { workspaceId, conversationId } = await ca.conversation();
    const runId = await ca.post(
      conversationId,
      [
        // Outlasts the lease (unless Claude Code moves it to the background): the model is
        // asked again only once B holds the container.
        `MOCK:{"tool": "Bash", "input": {"command": "echo adopted > adopted.txt && sleep ${(LEASE_TTL_MS + 8_000) / 1000}"}}`,
        'MOCK:{"text": "adopted"}',
      ].join('\n'),
    );
    const seen = await follow(ca, conversationId, runId, 0, (e) => {
      if (e.event !== 'message') return false;
      return (JSON.parse(e.data) as { type?: string }).type === 'assistant';
    });
    expect(seen[0]?.event, logs().slice(-3000)).toBe('run.started');
    await a.kill9();
    const killedAt = Date.now();

    const rest = await followToEnd(() => cb, conversationId, runId, Number(seen.at(-1)?.id));
    const all = [...seen, ...rest];
    expect(seqs(all), logs().slice(-4000)).toEqual(all.map((_, i) => i + 1));
    expect(all.at(-1)?.event, JSON.stringify(dataOf(all, 'run.failed'))).toBe('run.completed');
    expect(JSON.parse(all.at(-1)?.data ?? '{}')).toMatchObject({ result: 'adopted' });
    expect(Date.now() - killedAt).toBeGreaterThan(LEASE_TTL_MS - 2_000);
    expect(b.stderr()).toContain('carrying on a run whose host went away');
    expect(await cb.file(workspaceId, 'adopted.txt'), b.stderr().slice(-6000)).toBe('adopted\n');
    expect(syncOuts(logs(), runId)).toBe(1);

    const next = await cb.send(conversationId, 'MOCK:{"text": "next"}');
    expect(next.at(-1)?.event, JSON.stringify(dataOf(next, 'run.failed'))).toBe('run.completed');
  });

  it('kill -9 after acceptance, before the run has a container: another host starts it again with its settings, events 1..N once', async () => {
    inst = await installation();
    const a = await spawnHost(inst.env(`early-a-${randomBytes(3).toString('hex')}`));
    hosts.push(a);
    const b = await spawnHost(inst.env(`early-b-${randomBytes(3).toString('hex')}`));
    hosts.push(b);
    const ca = client(a.url, inst.token);
    const cb = client(b.url, inst.token);
    const { workspaceId, conversationId } = await ca.conversation();
    // No warm pool: A creates the run's container after acceptance, which takes seconds.
    const { runId } = await ca.wc.conversations.start(
      conversationId,
      [
        'MOCK:{"tool": "Bash", "input": {"command": "echo $STARTED_AGAIN > again.txt"}}',
        'MOCK:{"text": "started again"}',
      ].join('\n'),
      { agent: { env: { STARTED_AGAIN: 'with its settings' } } },
    );
    const seen = await follow(ca, conversationId, runId, 0, (e) => e.event === 'user.message');
    await a.kill9();
    const killedAt = Date.now();

    // The window is hit: the run is recorded accepted, with no container and with its input.
    const state = new RedisStateStore({ url: inst.redis.url });
    try {
      const recorded = (await state.listRunAttachments()).find((r) => r.runId === runId);
      expect(recorded, a.stderr().slice(-3000)).toMatchObject({
        containerId: '',
        input: { options: { env: { STARTED_AGAIN: 'with its settings' } } },
      });
    } finally {
      await state.close();
    }
    expect(seen.map((e) => e.event)).toEqual(['run.started', 'user.message']);

    const rest = await followToEnd(() => cb, conversationId, runId, Number(seen.at(-1)?.id));
    const all = [...seen, ...rest];
    expect(seqs(all), logs().slice(-4000)).toEqual(all.map((_, i) => i + 1));
    expect(named(all, 'run.started')).toHaveLength(1);
    expect(named(all, 'user.message')).toHaveLength(1);
    expect(all.at(-1)?.event, JSON.stringify(dataOf(all, 'run.failed'))).toBe('run.completed');
    expect(JSON.parse(all.at(-1)?.data ?? '{}')).toMatchObject({ result: 'started again' });
    expect(Date.now() - killedAt).toBeGreaterThan(LEASE_TTL_MS - 2_000);
    expect(b.stderr()).toContain(
      'starting again a run whose host went away before it had a container',
    );
    expect(await cb.file(workspaceId, 'again.txt'), b.stderr().slice(-6000)).toBe(
      'with its settings\n',
    );

    // A follower from the start, through B, sees the same events; so does the history.
    const replay = await followToEnd(() => cb, conversationId, runId, 0);
    expect(replay.map((e) => [e.id, e.event])).toEqual(all.map((e) => [e.id, e.event]));
    const history = (await (
      await cb.api(`/v1/conversations/${conversationId}/messages`)
    ).json()) as { runs: { runId: string; events: { seq: number }[] }[] };
    expect(history.runs.find((r) => r.runId === runId)?.events.map((e) => e.seq)).toEqual(
      seqs(all),
    );

    const next = await cb.send(conversationId, 'MOCK:{"text": "next"}');
    expect(next.at(-1)?.event, JSON.stringify(dataOf(next, 'run.failed'))).toBe('run.completed');
  });

  it('the container removed while its host is away: the run fails container_lost and the next message works', async () => {
    inst = await installation();
    const hostId = `lost-${randomBytes(3).toString('hex')}`;
    const first = await spawnHost(inst.env(hostId));
    hosts.push(first);
    const c1 = client(first.url, inst.token);
    const { workspaceId, conversationId } = await c1.conversation();
    const runId = await c1.post(
      conversationId,
      'MOCK:{"tool": "Bash", "input": {"command": "sleep 30"}}\nMOCK:{"text": "never"}',
    );
    await waitFor(
      'the run to be under way',
      async () => (await c1.workspace(workspaceId)).container?.state === 'running',
    );
    const seen = await follow(c1, conversationId, runId, 0, (e) => e.event === 'message');
    const container = (await c1.workspace(workspaceId)).container?.id ?? '';
    await first.stop();
    expect(first.child.exitCode, logs().slice(-3000)).toBe(0);
    await docker('rm', '-f', container);

    const again = await spawnHost(inst.env(hostId));
    hosts.push(again);
    const c2 = client(again.url, inst.token);
    const rest = await followToEnd(() => c2, conversationId, runId, Number(seen.at(-1)?.id));
    const all = [...seen, ...rest];
    expect(seqs(all)).toEqual(all.map((_, i) => i + 1));
    expect(all.at(-1)?.event, logs().slice(-4000)).toBe('run.failed');
    expect(dataOf<{ code: string }>(all, 'run.failed')[0]?.code).toBe('container_lost');

    const next = await c2.send(conversationId, 'MOCK:{"text": "after the loss"}');
    expect(next.at(-1)?.event, JSON.stringify(dataOf(next, 'run.failed'))).toBe('run.completed');
  });
});

/**
 * An approval waiting for a person outlives the host: the run waits in its container, the host
 * that carries it on re-attaches, the approval is still listed, and a decision sent afterwards,
 * through any host, completes the run with its events continuing on the same run id.
 */
describe('a pending approval outlives its host', () => {
  const hosts: ChildHost[] = [];
  let inst: Installation | null = null;
  const logs = (): string => hosts.map((h) => h.stderr()).join('\n');
  const ASK_BASH = { permissions: { ask: ['Bash'] } };
  const COMMAND = 'echo decided > decided.txt';

  afterEach(async () => {
    for (const h of hosts.splice(0)) await h.kill9();
    if (!inst) return;
    await removeContainersOf(inst.dataDir);
    await inst.redis.dispose();
    await removeDataDir(inst.dataDir);
    inst = null;
  });

  /** Starts a run that asks before its Bash call; answers once `approval.requested` is seen. */
  async function waitingRun(c: Client): Promise<{
    workspaceId: string;
    conversationId: string;
    runId: string;
    approvalId: string;
    seen: SseEvent[];
  }> {
    const { workspaceId, conversationId } = await c.conversation();
    const { runId } = await c.wc.conversations.start(
      conversationId,
      [
        `MOCK:${JSON.stringify({ tool: 'Bash', input: { command: COMMAND } })}`,
        'MOCK:{"text": "decided after the host went away"}',
      ].join('\n'),
      { agent: ASK_BASH },
    );
    const seen = await follow(c, conversationId, runId, 0, (e) => e.event === 'approval.requested');
    expect(seen.at(-1)?.event, logs().slice(-3000)).toBe('approval.requested');
    const { approvalId } = JSON.parse(seen.at(-1)?.data ?? '{}') as { approvalId: string };
    return { workspaceId, conversationId, runId, approvalId, seen };
  }

  /** Every event once, in order; one request and one resolution of the approval; completed. */
  async function expectCarriedOn(
    c: Client,
    ids: { workspaceId: string; conversationId: string; runId: string; approvalId: string },
    all: SseEvent[],
  ): Promise<void> {
    expect(seqs(all), logs().slice(-4000)).toEqual(all.map((_, i) => i + 1));
    expect(all.at(-1)?.event, JSON.stringify(dataOf(all, 'run.failed'))).toBe('run.completed');
    expect(JSON.parse(all.at(-1)?.data ?? '{}')).toMatchObject({
      result: 'decided after the host went away',
    });
    expect(named(all, 'approval.requested').map((e) => JSON.parse(e.data) as unknown)).toEqual([
      expect.objectContaining({ approvalId: ids.approvalId, toolName: 'Bash' }),
    ]);
    expect(named(all, 'approval.resolved').map((e) => JSON.parse(e.data) as unknown)).toEqual([
      { approvalId: ids.approvalId, decision: 'allow', reason: 'client' },
    ]);
    expect(await c.file(ids.workspaceId, 'decided.txt')).toBe('decided\n');
    const history = (await (
      await c.api(`/v1/conversations/${ids.conversationId}/messages`)
    ).json()) as { runs: { runId: string; events: { seq: number }[] }[] };
    expect(history.runs.find((r) => r.runId === ids.runId)?.events.map((e) => e.seq)).toEqual(
      seqs(all),
    );
    expect(await c.wc.approvals.list(ids.conversationId)).toEqual([
      expect.objectContaining({ id: ids.approvalId, status: 'allowed', reason: 'client' }),
    ]);
    expect(syncOuts(logs(), ids.runId)).toBe(1);
  }

  it('SIGTERM while it waits, the host started again: still listed, decided through the host not holding the run, the run completes', async () => {
    inst = await installation();
    const hostId = `deploy-${randomBytes(3).toString('hex')}`;
    const first = await spawnHost(inst.env(hostId));
    hosts.push(first);
    const peer = await spawnHost(inst.env(`peer-${randomBytes(3).toString('hex')}`));
    hosts.push(peer);
    const ids = await waitingRun(client(first.url, inst.token));

    await first.stop();
    expect(first.child.exitCode, logs().slice(-3000)).toBe(0);
    const again = await spawnHost(inst.env(hostId));
    hosts.push(again);
    // The restarted host or its peer carries the run on; the decision goes through the other.
    await waitFor('a host to carry the run on', () =>
      logs().includes('carrying on a run whose host went away'),
    );
    const holder = again.stderr().includes('carrying on a run whose host went away') ? again : peer;
    const other = client((holder === again ? peer : again).url, inst.token);
    expect(await other.wc.approvals.list(ids.conversationId)).toEqual([
      expect.objectContaining({ id: ids.approvalId, status: 'pending', toolName: 'Bash' }),
    ]);
    expect(await other.file(ids.workspaceId, 'decided.txt')).toBeNull();
    const decided = await other.wc.approvals.decide(ids.conversationId, ids.approvalId, {
      decision: 'allow',
    });
    expect(decided).toMatchObject({ status: 'allowed', reason: 'client' });

    const rest = await followToEnd(
      () => other,
      ids.conversationId,
      ids.runId,
      Number(ids.seen.at(-1)?.id),
    );
    await expectCarriedOn(other, ids, [...ids.seen, ...rest]);
    expect(holder.stderr()).toContain('answer delivered for a peer');
  });

  it('kill -9 while it waits, decided before anyone holds the run: the host that adopts it after the lease delivers the decision', async () => {
    inst = await installation();
    const a = await spawnHost(inst.env(`crash-a-${randomBytes(3).toString('hex')}`));
    hosts.push(a);
    const b = await spawnHost(inst.env(`crash-b-${randomBytes(3).toString('hex')}`));
    hosts.push(b);
    const ids = await waitingRun(client(a.url, inst.token));
    await a.kill9();
    const killedAt = Date.now();

    const cb = client(b.url, inst.token);
    expect(await cb.wc.approvals.list(ids.conversationId)).toEqual([
      expect.objectContaining({ id: ids.approvalId, status: 'pending' }),
    ]);
    // Nobody holds the run until its attach lease expires: the decision is kept with it.
    await cb.wc.approvals.decide(ids.conversationId, ids.approvalId, { decision: 'allow' });
    const rest = await followToEnd(
      () => cb,
      ids.conversationId,
      ids.runId,
      Number(ids.seen.at(-1)?.id),
    );
    expect(Date.now() - killedAt).toBeGreaterThan(LEASE_TTL_MS - 2_000);
    expect(b.stderr()).toContain('carrying on a run whose host went away');
    await expectCarriedOn(cb, ids, [...ids.seen, ...rest]);
  });
});
