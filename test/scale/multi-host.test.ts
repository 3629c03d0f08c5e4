import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { GcReport } from '@workcell/host';
import { RedisStateStore } from '../../packages/host/src/state/index.js';
import { docker } from '../support/host.js';
import { readSse, type SseEvent } from '../support/sse.js';
import { client, dataOf, waitFor, type Client } from '../orchestrator/support.js';
import { startScaleHosts, type ScaleHost, type ScaleHosts } from './hosts.js';

/** The run lease's TTL (the host's fixed setting): a dead host's run frees its workspace after it. */
const RUN_LEASE_TTL_MS = 30_000;
/**
 * How long a run of a dead host waits for a host of its own data directory before another host
 * ends it `host_lost` (`WORKCELL_FOREIGN_RUN_GRACE_MS`): short here, so the test is.
 */
const FOREIGN_RUN_GRACE_MS = 3_000;

const sleepPrompt = (ms: number): string =>
  [`MOCK:{"text": "working"}`, `MOCK:{"sleep_ms": ${ms}}`, 'MOCK:{"text": "never"}'].join('\n');

/** Follows a run's events on `c` from after `afterSeq`, until `stopAfter` or the run ends. */
async function follow(
  c: Client,
  conversationId: string,
  runId: string,
  afterSeq: number,
  stopAfter?: (e: SseEvent, all: SseEvent[]) => boolean,
): Promise<SseEvent[]> {
  const abort = new AbortController();
  const res = await c.api(`/v1/conversations/${conversationId}/runs/${runId}/events`, {
    headers: {
      accept: 'text/event-stream',
      ...(afterSeq > 0 ? { 'last-event-id': String(afterSeq) } : {}),
    },
    signal: abort.signal,
  });
  expect(res.status).toBe(200);
  return readSse(res, { abort, ...(stopAfter ? { stopAfter } : {}) });
}

const seqs = (events: SseEvent[]): number[] => events.map((e) => Number(e.id));

/**
 * Three host processes on one Redis Cluster, one S3 store (s3rver) and the one Docker engine,
 * each with its own data directory and host id, as three machines behind a load balancer.
 */
describe('several hosts behind a load balancer', () => {
  let set: ScaleHosts;
  let state: RedisStateStore;
  let a: ScaleHost;
  let b: ScaleHost;
  let c: ScaleHost;
  const on = (h: ScaleHost): Client => client(h.url, set.token);
  /** GETs `path` through host `h` and parses the JSON answer (throws on an error status). */
  const getJson = async <T>(h: ScaleHost, path: string): Promise<T> => {
    const res = await on(h).api(path);
    const text = await res.text();
    if (!res.ok) throw new Error(`GET ${path} through ${h.name} answered ${res.status}: ${text}`);
    return JSON.parse(text) as T;
  };
  const logs = (): string =>
    set.hosts.map((h) => `--- ${h.name}\n${h.process.stderr().slice(-3000)}`).join('\n');

  beforeAll(async () => {
    set = await startScaleHosts({
      names: ['a', 'b', 'c'],
      redisUrl: inject('redisClusterUrl'),
      s3Endpoint: inject('s3Endpoint'),
      s3Bucket: inject('s3Bucket'),
      env: {
        WORKCELL_EGRESS_ALLOW: 'example.com,*.example.org',
        WORKCELL_FOREIGN_RUN_GRACE_MS: String(FOREIGN_RUN_GRACE_MS),
      },
    });
    [a, b, c] = set.hosts as [ScaleHost, ScaleHost, ScaleHost];
    state = new RedisStateStore({ url: inject('redisClusterUrl') });
  });

  afterAll(async () => {
    await set?.close();
    await state?.close();
  });

  /** The host id of the container a workspace is assigned to. */
  const ownerOf = async (workspaceId: string): Promise<string | null> => {
    const id = await state.getAssignment(workspaceId);
    return id ? ((await state.getContainer(id))?.hostId ?? null) : null;
  };

  it('runs the messages of many workspaces on the host each arrives at, any host seeing every workspace', async () => {
    const workspaces: { workspaceId: string; conversationId: string; host: ScaleHost }[] = [];
    for (let i = 0; i < 6; i += 1) {
      const host = set.hosts[i % 3] as ScaleHost;
      workspaces.push({ ...(await on(host).conversation()), host });
    }
    const runs = await Promise.all(
      workspaces.map(({ conversationId, host }, i) =>
        on(host).send(conversationId, `MOCK:{"text": "hello ${i}"}`),
      ),
    );
    for (const events of runs) expect(events.at(-1)?.event, logs()).toBe('run.completed');
    for (const { workspaceId, host } of workspaces) {
      expect(await ownerOf(workspaceId)).toBe(host.hostId);
    }
    const listed = await getJson<{ workspaces: { id: string }[] }>(c, '/v1/workspaces');
    expect(listed.workspaces.map((w) => w.id)).toEqual(
      expect.arrayContaining(workspaces.map((w) => w.workspaceId)),
    );
  });

  it('a run on A is followed through B, resumed through C with no event lost or repeated, and interrupted through B', async () => {
    const { workspaceId, conversationId } = await on(a).conversation();
    const runId = await on(a).post(conversationId, sleepPrompt(60_000));
    await waitFor('the run to run on A', async () => (await ownerOf(workspaceId)) === a.hostId);

    // Follow on B until the agent has started (a few events), then drop the connection.
    const first = await follow(on(b), conversationId, runId, 0, (e) => e.event === 'message');
    expect(first[0]?.event).toBe('run.started');
    const lastSeen = Number(first.at(-1)?.id);

    const rest = follow(on(c), conversationId, runId, lastSeen);
    const res = await on(b).api(`/v1/conversations/${conversationId}/runs/${runId}/interrupt`, {
      method: 'POST',
    });
    expect(res.status, await res.clone().text()).toBe(202);
    const resumed = await rest;

    const all = [...first, ...resumed];
    expect(seqs(all)).toEqual(all.map((_, i) => i + 1));
    const end = all.at(-1);
    expect(end?.event).toBe('run.completed');
    expect(JSON.parse(end?.data ?? '{}')).toMatchObject({ interrupted: true });

    // The recorded history, read through C, is the same events.
    const history = await getJson<{ runs: { runId: string; events: { seq: number }[] }[] }>(
      c,
      `/v1/conversations/${conversationId}/messages`,
    );
    const recorded = history.runs.find((r) => r.runId === runId);
    expect(recorded?.events.map((e) => e.seq)).toEqual(seqs(all));
  });

  it('files written through C are in the next run on A, in the container A already has', async () => {
    const ca = on(a);
    const { workspaceId, conversationId } = await ca.conversation();
    expect((await ca.send(conversationId, 'MOCK:{"text": "first"}')).at(-1)?.event).toBe(
      'run.completed',
    );
    const container = (await ca.workspace(workspaceId)).container?.id;
    expect(await ownerOf(workspaceId)).toBe(a.hostId);

    const put = await on(c).api(`/v1/workspaces/${workspaceId}/files/from-c.txt`, {
      method: 'PUT',
      body: 'written through C',
    });
    expect(put.status).toBe(201);

    const events = await ca.send(
      conversationId,
      'MOCK:{"tool": "Bash", "input": {"command": "cat from-c.txt > seen-on-a.txt"}}',
    );
    expect(events.at(-1)?.event, JSON.stringify(dataOf(events, 'run.failed'))).toBe(
      'run.completed',
    );
    expect((await ca.workspace(workspaceId)).container?.id).toBe(container);
    expect(await on(b).file(workspaceId, 'seen-on-a.txt')).toBe('written through C');
  });

  it('an egress policy narrowed through B applies on A, which holds the container, before its cache would go stale', async () => {
    const { workspaceId, conversationId } = await on(a).conversation();
    expect((await on(a).send(conversationId, 'MOCK:{"text": "x"}')).at(-1)?.event).toBe(
      'run.completed',
    );
    const policyOnA = async (): Promise<string[] | null> =>
      (await getJson<{ hosts: string[] | null }>(a, `/v1/workspaces/${workspaceId}/egress`)).hosts;
    expect(await policyOnA()).toBeNull();
    const put = await on(b).api(`/v1/workspaces/${workspaceId}/egress`, {
      method: 'PUT',
      body: JSON.stringify({ hosts: ['example.com'] }),
    });
    expect(put.status, await put.clone().text()).toBe(200);
    // A's cached policy is re-read only when 5 s old; the change reaches it well before.
    await waitFor(
      "B's change on A",
      async () => JSON.stringify(await policyOnA()) === '["example.com"]',
      2_500,
      50,
    );
  });

  it('a workspace deleted through B loses its container on A', async () => {
    const { workspaceId, conversationId } = await on(a).conversation();
    expect((await on(a).send(conversationId, 'MOCK:{"text": "x"}')).at(-1)?.event).toBe(
      'run.completed',
    );
    const container = (await on(a).workspace(workspaceId)).container?.id ?? '';
    const res = await on(b).api(`/v1/workspaces/${workspaceId}`, { method: 'DELETE' });
    expect(res.status).toBe(204);
    // A removes the engine's container, then its slot volume, then the record: all three end.
    await waitFor(
      'A to remove the container',
      async () => (await docker('inspect', container).catch(() => 'gone')) === 'gone',
    );
    await waitFor('A to delete the container record', async () => {
      return (await state.getContainer(container)) === null;
    });
    expect(await state.getContainer(container)).toBeNull();
  });

  it('a message through B to a workspace on A moves it to B, and A removes its container', async () => {
    const { workspaceId, conversationId } = await on(a).conversation();
    await on(a).send(
      conversationId,
      'MOCK:{"tool": "Write", "input": {"file_path": "moved.txt", "content": "from A"}}',
    );
    const onA = (await on(a).workspace(workspaceId)).container?.id ?? '';
    const events = await on(b).send(
      conversationId,
      'MOCK:{"tool": "Bash", "input": {"command": "cp moved.txt copied-on-b.txt"}}',
    );
    expect(events.at(-1)?.event, JSON.stringify(dataOf(events, 'run.failed'))).toBe(
      'run.completed',
    );
    expect(await ownerOf(workspaceId)).toBe(b.hostId);
    expect(await on(c).file(workspaceId, 'copied-on-b.txt')).toBe('from A');
    await waitFor(
      'A to remove its container',
      async () => (await docker('inspect', onA).catch(() => 'gone')) === 'gone',
    );
  });

  it("A killed with kill -9 mid-run and not back: once the lease and the grace run out B ends the run host_lost and serves the workspace, completed work intact, and GC removes A's orphan", async () => {
    const ca = on(a);
    const { workspaceId, conversationId } = await ca.conversation();
    const done = await ca.send(
      conversationId,
      'MOCK:{"tool": "Write", "input": {"file_path": "kept.txt", "content": "completed run"}}',
    );
    expect(done.at(-1)?.event).toBe('run.completed');
    await ca.post(
      conversationId,
      [
        'MOCK:{"tool": "Write", "input": {"file_path": "kept.txt", "content": "half-done"}}',
        'MOCK:{"sleep_ms": 60000}',
      ].join('\n'),
    );
    await waitFor(
      'the run to be under way on A',
      async () => (await ca.workspace(workspaceId)).container?.state === 'running',
    );
    const orphan = (await ca.workspace(workspaceId)).container?.id ?? '';
    await a.process.kill9();
    const killedAt = Date.now();

    // Through B: busy until the dead run's lease expires and no host of A's data directory took
    // the run within the grace (B cannot reach A's container); then the run ends host_lost and
    // the workspace is served.
    const cb = on(b);
    let served: SseEvent[] | null = null;
    while (!served) {
      const res = await cb.api(`/v1/conversations/${conversationId}/messages`, {
        method: 'POST',
        headers: { accept: 'text/event-stream' },
        body: JSON.stringify({
          content: 'MOCK:{"tool": "Bash", "input": {"command": "cp kept.txt after.txt"}}',
        }),
      });
      if (res.status === 409) {
        await res.text();
        expect(Date.now() - killedAt).toBeLessThan(
          RUN_LEASE_TTL_MS + FOREIGN_RUN_GRACE_MS + 10_000,
        );
        await new Promise((r) => setTimeout(r, 500));
        continue;
      }
      expect(res.status, await res.clone().text()).toBe(200);
      served = await readSse(res);
    }
    expect(Date.now() - killedAt).toBeLessThan(RUN_LEASE_TTL_MS + FOREIGN_RUN_GRACE_MS + 15_000);
    expect(served.at(-1)?.event, JSON.stringify(dataOf(served, 'run.failed'))).toBe(
      'run.completed',
    );
    expect(await ownerOf(workspaceId)).toBe(b.hostId);
    expect(await cb.file(workspaceId, 'after.txt')).toBe('completed run');
    expect(await on(c).file(workspaceId, 'kept.txt')).toBe('completed run');

    const history = await getJson<{
      runs: { status: string; events: { event: string; data: unknown }[] }[];
    }>(c, `/v1/conversations/${conversationId}/messages`);
    expect(history.runs.map((r) => r.status)).toEqual(['completed', 'failed', 'completed']);
    const lost = history.runs[1]?.events.find((e) => e.event === 'run.failed')?.data;
    expect(lost).toMatchObject({ code: 'host_lost' });

    // A's container outlived A; the next GC over A's data directory removes it.
    expect(await docker('inspect', orphan).catch(() => 'gone')).not.toBe('gone');
    const gc = await set.gcOnce('a');
    expect(gc.code, gc.stderr.slice(-2000)).toBe(0);
    const report = JSON.parse(gc.stdout) as GcReport;
    expect(report.removed.map((r) => r.id)).toContain(orphan);
    expect(await docker('inspect', orphan).catch(() => 'gone')).toBe('gone');
  });
});
