import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Cluster } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { removeDataDir } from '../support/host.js';
import { follow, followToEnd, seqs } from '../support/follow-run.js';
import { startStoppableS3rver, type StoppableS3 } from '../support/local-s3.js';
import type { SseEvent } from '../support/sse.js';
import { startScratchRedis, type ScratchRedis } from '../state/redis-server.js';
import { startReplicatedCluster, type ReplicatedCluster } from '../support/redis-cluster.js';
import { spawnHost, type ChildHost } from '../orchestrator/child-host.js';
import {
  client,
  dataOf,
  newDataDir,
  removeContainersOf,
  waitFor,
  type Client,
} from '../orchestrator/support.js';

/** How long each test keeps its store away. */
const OUTAGE_MS = 10_000;

interface Installation {
  redis: ScratchRedis;
  s3: StoppableS3;
  dataDir: string;
  token: string;
  env: (hostId: string, extra?: Record<string, string>) => Record<string, string>;
}

async function installation(): Promise<Installation> {
  const redis = await startScratchRedis();
  const s3 = await startStoppableS3rver('workcell-outage');
  const dataDir = newDataDir();
  const token = `tok_${randomBytes(16).toString('hex')}`;
  return {
    redis,
    s3,
    dataDir,
    token,
    env: (hostId, extra = {}) => ({
      WORKCELL_DATA_DIR: dataDir,
      WORKCELL_REDIS_URL: redis.url,
      WORKCELL_S3_BUCKET: s3.bucket,
      WORKCELL_S3_ENDPOINT: s3.endpoint,
      WORKCELL_S3_ACCESS_KEY: 'S3RVER',
      WORKCELL_S3_SECRET_KEY: 'S3RVER',
      WORKCELL_HOST_ID: hostId,
      WORKCELL_API_TOKENS: `${token}=tenant`,
      WORKCELL_PORT: '0',
      WORKCELL_WARM_POOL_SIZE: '0',
      WORKCELL_GC_INTERVAL_MS: '3600000',
      WORKCELL_CONTAINER_MEMORY_MB: '512',
      WORKCELL_LOG_LEVEL: 'info',
      ANTHROPIC_API_KEY: `sk-ant-test-${randomBytes(12).toString('hex')}`,
      ...extra,
    }),
  };
}

interface Readiness {
  ready: boolean;
  stateStore: { ok: boolean; error?: string; downSince?: string };
  objectStore: { ok: boolean; error?: string; downSince?: string };
}

async function readyz(url: string): Promise<{ status: number; body: Readiness }> {
  const res = await fetch(`${url}/readyz`);
  return { status: res.status, body: (await res.json()) as Readiness };
}

/** A refusal of new work: its status, error code and Retry-After header. */
async function newWorkAnswer(
  c: Client,
  conversationId: string,
): Promise<{ status: number; code: string | undefined; retryAfter: string | null }> {
  const res = await c.api(`/v1/conversations/${conversationId}/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ content: 'MOCK:{"text": "refused"}' }),
  });
  const body = (await res.json()) as { error?: { code: string } };
  return { status: res.status, code: body.error?.code, retryAfter: res.headers.get('retry-after') };
}

/**
 * Follows a run from its start over one connection (a resume would need the stores), and
 * answers once its first SDK message arrived, with the whole run to come.
 */
async function followFromStart(
  c: Client,
  conversationId: string,
  runId: string,
): Promise<{ events: Promise<SseEvent[]> }> {
  let underWay: () => void = () => undefined;
  const started = new Promise<void>((resolve) => (underWay = resolve));
  const events = followToEnd(
    () => c,
    conversationId,
    runId,
    0,
    120_000,
    (e) => {
      if (e.event === 'message') underWay();
    },
  );
  await Promise.race([started, events]);
  return { events };
}

/** The recorded history's sequence numbers of `runId`. */
async function historySeqs(c: Client, conversationId: string, runId: string): Promise<number[]> {
  const history = (await (await c.api(`/v1/conversations/${conversationId}/messages`)).json()) as {
    runs: { runId: string; events: { seq: number }[] }[];
  };
  return history.runs.find((r) => r.runId === runId)?.events.map((e) => e.seq) ?? [];
}

/**
 * A store goes away for seconds while a run writes files and streams events: the run goes on,
 * every event is recorded once, the files reach the store, and meanwhile the host says which
 * store is down and refuses new work with 503 and Retry-After.
 */
describe('a store outage during a run', () => {
  const hosts: ChildHost[] = [];
  let inst: Installation | null = null;
  const logs = (): string => hosts.map((h) => h.stderr()).join('\n');

  afterEach(async () => {
    for (const h of hosts.splice(0)) await h.kill9();
    if (!inst) return;
    inst.redis.resume();
    await removeContainersOf(inst.dataDir);
    await inst.redis.dispose();
    await inst.s3.close();
    await removeDataDir(inst.dataDir);
    inst = null;
  });

  it('Redis stops answering for 10 s mid-run: the run completes with every event once and its file stored; readyz and new work say redis meanwhile', async () => {
    inst = await installation();
    const host = await spawnHost(inst.env(`redis-out-${randomBytes(3).toString('hex')}`));
    hosts.push(host);
    const c = client(host.url, inst.token);
    const { workspaceId, conversationId } = await c.conversation();
    const runId = await c.post(
      conversationId,
      [
        'MOCK:{"tool": "Write", "input": {"file_path": "before.txt", "content": "before the outage"}}',
        'MOCK:{"tool": "Bash", "input": {"command": "sleep 5 && echo during the outage > during.txt"}}',
        'MOCK:{"chunks": 40, "chunk_text": "x"}',
        'MOCK:{"text": "survived"}',
      ].join('\n'),
    );
    const seen = await follow(c, conversationId, runId, 0, (e) => {
      if (e.event !== 'message') return false;
      return (JSON.parse(e.data) as { type?: string }).type === 'user';
    });
    expect(seen[0]?.event, logs().slice(-3000)).toBe('run.started');

    inst.redis.pause();
    const pausedAt = Date.now();
    let rest: SseEvent[] = [];
    try {
      // The run goes on while the host follows it from memory.
      const following = followToEnd(() => c, conversationId, runId, Number(seen.at(-1)?.id));
      await waitFor('/readyz to report Redis down', async () => {
        const r = await readyz(host.url);
        return r.status === 503 && !r.body.stateStore.ok;
      });
      const down = await readyz(host.url);
      expect(down.body.stateStore.error).toMatch(/Redis/);
      expect(Date.parse(down.body.stateStore.downSince ?? '')).toBeGreaterThanOrEqual(
        pausedAt - 1_000,
      );
      expect(down.body.objectStore.ok).toBe(true);

      const refused = await newWorkAnswer(c, conversationId);
      expect(refused).toMatchObject({ status: 503, code: 'dependency_unavailable' });
      expect(Number(refused.retryAfter)).toBeGreaterThan(0);

      await sleep(Math.max(0, OUTAGE_MS - (Date.now() - pausedAt)));
      inst.redis.resume();
      rest = await following;
    } finally {
      inst.redis.resume();
    }

    const all = [...seen, ...rest];
    expect(seqs(all), logs().slice(-4000)).toEqual(all.map((_, i) => i + 1));
    expect(all.at(-1)?.event, JSON.stringify(dataOf(all, 'run.failed'))).toBe('run.completed');
    // The streamed chunks and the last text make up the result.
    expect(JSON.parse(all.at(-1)?.data ?? '{}')).toMatchObject({
      result: expect.stringMatching(/survived$/),
    });
    expect(all.filter((e) => e.event === 'run.completed')).toHaveLength(1);
    await waitFor(
      '/readyz to report ready again',
      async () => (await readyz(host.url)).status === 200,
    );
    expect(await historySeqs(c, conversationId, runId)).toEqual(seqs(all));
    expect(await c.file(workspaceId, 'before.txt')).toBe('before the outage');
    expect(await c.file(workspaceId, 'during.txt')).toBe('during the outage\n');

    const next = await c.send(conversationId, 'MOCK:{"text": "next"}');
    expect(next.at(-1)?.event, JSON.stringify(dataOf(next, 'run.failed'))).toBe('run.completed');
  });

  it('the object store stops for 10 s around the sync out: the sync waits for it, the run completes, its files and log are stored; readyz and new work say so meanwhile', async () => {
    inst = await installation();
    const host = await spawnHost(inst.env(`s3-out-${randomBytes(3).toString('hex')}`));
    hosts.push(host);
    const c = client(host.url, inst.token);
    const { workspaceId, conversationId } = await c.conversation();
    const runId = await c.post(
      conversationId,
      [
        'MOCK:{"tool": "Bash", "input": {"command": "sleep 3 && echo written while S3 was down > during.txt"}}',
        'MOCK:{"text": "synced later"}',
      ].join('\n'),
    );
    const following = await followFromStart(c, conversationId, runId);
    await inst.s3.stop();
    const stoppedAt = Date.now();
    let all: SseEvent[] = [];
    try {
      await waitFor('/readyz to report the object store down', async () => {
        const r = await readyz(host.url);
        return r.status === 503 && !r.body.objectStore.ok;
      });
      const down = await readyz(host.url);
      expect(Date.parse(down.body.objectStore.downSince ?? '')).toBeGreaterThanOrEqual(
        stoppedAt - 1_000,
      );
      expect(down.body.stateStore.ok).toBe(true);
      const refused = await newWorkAnswer(c, conversationId);
      expect(refused).toMatchObject({ status: 503, code: 'dependency_unavailable' });
      expect(Number(refused.retryAfter)).toBeGreaterThan(0);

      await sleep(Math.max(0, OUTAGE_MS - (Date.now() - stoppedAt)));
      // The run's agent is done by now and its sync out is waiting for the store.
      expect(host.stderr()).toContain('store unavailable; retrying with backoff');
      await inst.s3.start();
      all = await following.events;
    } finally {
      await inst.s3.start();
    }

    expect(seqs(all), logs().slice(-4000)).toEqual(all.map((_, i) => i + 1));
    expect(all.at(-1)?.event, JSON.stringify(dataOf(all, 'run.failed'))).toBe('run.completed');
    expect(JSON.parse(all.at(-1)?.data ?? '{}')).toMatchObject({ result: 'synced later' });
    expect(await historySeqs(c, conversationId, runId)).toEqual(seqs(all));
    expect(await c.file(workspaceId, 'during.txt')).toBe('written while S3 was down\n');
    await waitFor(
      '/readyz to report ready again',
      async () => (await readyz(host.url)).status === 200,
    );
    const next = await c.send(conversationId, 'MOCK:{"text": "next"}');
    expect(next.at(-1)?.event, JSON.stringify(dataOf(next, 'run.failed'))).toBe('run.completed');
  });

  it('the object store stays away past the retry deadline: the run fails sync_failed, and the workspace takes the next message once the store is back, its files kept', async () => {
    inst = await installation();
    const host = await spawnHost(
      inst.env(`s3-gone-${randomBytes(3).toString('hex')}`, { WORKCELL_STORE_RETRY_MS: '3000' }),
    );
    hosts.push(host);
    const c = client(host.url, inst.token);
    const { workspaceId, conversationId } = await c.conversation();
    const runId = await c.post(
      conversationId,
      [
        'MOCK:{"tool": "Bash", "input": {"command": "sleep 2 && echo kept in the container > kept.txt"}}',
        'MOCK:{"text": "not synced"}',
      ].join('\n'),
    );
    const following = await followFromStart(c, conversationId, runId);
    await inst.s3.stop();
    let all: SseEvent[] = [];
    try {
      all = await following.events;
    } finally {
      await inst.s3.start();
    }
    expect(seqs(all), logs().slice(-4000)).toEqual(all.map((_, i) => i + 1));
    expect(all.at(-1)?.event).toBe('run.failed');
    expect(dataOf<{ code: string }>(all, 'run.failed')[0]?.code).toBe('sync_failed');

    await waitFor(
      '/readyz to report ready again',
      async () => (await readyz(host.url)).status === 200,
    );
    const next = await c.send(conversationId, 'MOCK:{"text": "after the store came back"}');
    expect(next.at(-1)?.event, JSON.stringify(dataOf(next, 'run.failed'))).toBe('run.completed');
    expect(await c.file(workspaceId, 'kept.txt')).toBe('kept in the container\n');
  });
});

/**
 * A Redis Cluster master dies during a run and its replica is promoted: the run goes on, its
 * events are recorded once each, its files stored. The replica is cut off from its master for a
 * moment before the master dies, so events the master acknowledged are lost with it (as with an
 * asynchronous replica that lagged behind): the host writes them again from memory.
 */
describe('a Redis Cluster failover during a run', () => {
  let host: ChildHost | null = null;
  let cluster: ReplicatedCluster | null = null;
  let s3: StoppableS3 | null = null;
  let dataDir: string | null = null;

  afterEach(async () => {
    await host?.kill9();
    host = null;
    if (dataDir) {
      await removeContainersOf(dataDir);
      await removeDataDir(dataDir);
      dataDir = null;
    }
    await cluster?.stop();
    cluster = null;
    await s3?.close();
    s3 = null;
  });

  it('the master holding the run buffer is killed mid-run after events it never replicated: the run completes with every event once, the buffer whole, its file stored', async () => {
    cluster = await startReplicatedCluster();
    s3 = await startStoppableS3rver('workcell-failover');
    dataDir = newDataDir();
    const token = `tok_${randomBytes(16).toString('hex')}`;
    host = await spawnHost({
      WORKCELL_DATA_DIR: dataDir,
      WORKCELL_REDIS_URL: cluster.url,
      WORKCELL_S3_BUCKET: s3.bucket,
      WORKCELL_S3_ENDPOINT: s3.endpoint,
      WORKCELL_S3_ACCESS_KEY: 'S3RVER',
      WORKCELL_S3_SECRET_KEY: 'S3RVER',
      WORKCELL_HOST_ID: `failover-${randomBytes(3).toString('hex')}`,
      WORKCELL_API_TOKENS: `${token}=tenant`,
      WORKCELL_PORT: '0',
      WORKCELL_WARM_POOL_SIZE: '0',
      WORKCELL_GC_INTERVAL_MS: '3600000',
      WORKCELL_CONTAINER_MEMORY_MB: '512',
      ANTHROPIC_API_KEY: `sk-ant-test-${randomBytes(12).toString('hex')}`,
    });
    const logs = (): string => host?.stderr() ?? '';
    const c = client(host.url, token);
    const { workspaceId, conversationId } = await c.conversation();
    const runId = await c.post(
      conversationId,
      [
        'MOCK:{"tool": "Bash", "input": {"command": "sleep 2"}}',
        'MOCK:{"chunks": 20, "chunk_text": "y"}',
        'MOCK:{"tool": "Bash", "input": {"command": "sleep 4 && echo through the failover > failover.txt"}}',
        'MOCK:{"text": "failed over"}',
      ].join('\n'),
    );
    const seen = await follow(c, conversationId, runId, 0, (e) => e.event === 'message');
    expect(seen[0]?.event, logs().slice(-3000)).toBe('run.started');
    const key = `workcell:run:{${runId}}:events`;
    const lift = await cluster.cutReplicationOf(key);
    let unreplicated = 0;
    const following = followToEnd(
      () => c,
      conversationId,
      runId,
      Number(seen.at(-1)?.id),
      120_000,
      () => (unreplicated += 1),
    );
    await waitFor('events the replica never receives', async () => unreplicated >= 10);
    await cluster.killMasterOf(key);
    lift();
    const all = [...seen, ...(await following)];

    expect(seqs(all), logs().slice(-4000)).toEqual(all.map((_, i) => i + 1));
    expect(all.at(-1)?.event, JSON.stringify(dataOf(all, 'run.failed'))).toBe('run.completed');
    expect(JSON.parse(all.at(-1)?.data ?? '{}')).toMatchObject({
      result: expect.stringMatching(/failed over$/),
    });
    expect(await bufferedSeqs(cluster.url, key)).toEqual(seqs(all));
    expect(logs()).toContain('the run buffer lost events it had acknowledged; writing them again');
    expect(await historySeqs(c, conversationId, runId)).toEqual(seqs(all));
    expect(await c.file(workspaceId, 'failover.txt')).toBe('through the failover\n');
    const next = await c.send(conversationId, 'MOCK:{"text": "next"}');
    expect(next.at(-1)?.event, JSON.stringify(dataOf(next, 'run.failed'))).toBe('run.completed');
  });
});

/** The sequence numbers a run buffer (a Redis stream) holds. */
async function bufferedSeqs(url: string, key: string): Promise<number[]> {
  const nodes = url
    .replace('redis+cluster://', '')
    .split(',')
    .map((hp) => ({ host: '127.0.0.1', port: Number(hp.split(':')[1]) }));
  const redis = new Cluster(nodes);
  // The seed list names the killed master: its refused connections are expected.
  redis.on('error', () => undefined);
  try {
    const entries = await redis.xrange(key, '-', '+');
    return entries.map(([id]) => Number(id.split('-')[0]));
  } finally {
    redis.disconnect();
  }
}
