import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LEASES } from '../../packages/host/src/state/leases.js';
import { SetTimeClock } from '../../packages/host/src/time/clock.js';
import { dataOf, startTestHost, type TestHost } from '../support/host.js';

/** Wall-clock time that a test can move ahead (timers still run in real time). */
class AheadClock extends SetTimeClock {
  aheadMs = 0;
  now(): number {
    return Date.now() + this.aheadMs;
  }
}

const HOUR = 3_600_000;

const bash = (command: string): string =>
  `MOCK:${JSON.stringify({ tool: 'Bash', input: { command } })}`;

interface SnapshotItem {
  id: string;
  runId?: string;
  createdAt: string;
  files: number;
  bytes: number;
}

describe('snapshots of a real workspace', () => {
  let host: TestHost;
  const tokenB = `tok_b_${randomBytes(16).toString('hex')}`;
  const clock = new AheadClock();

  beforeAll(async () => {
    host = await startTestHost({ tokens: { [tokenB]: 'tenant-b' }, options: { clock } });
  });
  afterAll(async () => {
    await host?.close();
  });

  const list = async (wid: string, query = ''): Promise<SnapshotItem[]> => {
    const res = await host.api(`/v1/workspaces/${wid}/snapshots${query}`);
    expect(res.status).toBe(200);
    return ((await res.json()) as { snapshots: SnapshotItem[] }).snapshots;
  };

  it('records a snapshot named by its run after a run that changed files, none after one that changed nothing', async () => {
    const { workspaceId, conversationId } = await host.conversation();
    const put = await host.api(`/v1/workspaces/${workspaceId}/files/a.txt`, {
      method: 'PUT',
      body: 'alpha\n',
    });
    expect(put.status).toBe(201);

    const events = await host.send(conversationId, bash('echo bravo > b.txt'));
    expect(events.at(-1)?.event).toBe('run.completed');
    const runId = dataOf<{ runId: string }>(events, 'run.started')[0]?.runId;
    expect(runId).toMatch(/^run_/);
    const afterRun = await list(workspaceId);
    expect(afterRun[0]).toMatchObject({ runId, files: 2, bytes: 12 });
    expect(Date.parse(afterRun[0]?.createdAt ?? '')).toBeGreaterThan(Date.now() - 120_000);

    const idle = await host.send(conversationId, 'MOCK:{"text": "nothing to change"}');
    expect(idle.at(-1)?.event).toBe('run.completed');
    expect((await list(workspaceId)).map((s) => s.id)).toEqual(afterRun.map((s) => s.id));

    const taken = await host.api(`/v1/workspaces/${workspaceId}/snapshots`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(taken.status).toBe(201);
    const snapshot = (await taken.json()) as SnapshotItem;
    expect(snapshot).toMatchObject({ files: 2, bytes: 12 });
    expect(snapshot.runId).toBeUndefined();
    const now = await list(workspaceId);
    expect(now.map((s) => s.id)).toEqual([snapshot.id, ...afterRun.map((s) => s.id)]);
    const paged = await list(workspaceId, '?limit=1');
    expect(paged.map((s) => s.id)).toEqual([snapshot.id]);
    // The typed client reads the same list.
    expect((await host.wc.snapshots.list(workspaceId)).map((s) => s.id)).toEqual(
      now.map((s) => s.id),
    );
    const page = await host.wc.snapshots.page(workspaceId, { limit: 1 });
    expect(page.items.map((s) => s.id)).toEqual([snapshot.id]);
    const viaClient = await host.wc.snapshots.take(workspaceId);
    expect(viaClient.files).toBe(2);
    expect((await list(workspaceId)).map((s) => s.id)).toEqual([
      viaClient.id,
      ...now.map((s) => s.id),
    ]);
  });

  it("answers 404 for an unknown workspace and for another tenant's", async () => {
    const { workspaceId } = await host.conversation();
    const unknown = `ws_${randomBytes(8).toString('hex')}`;
    for (const method of ['GET', 'POST'] as const) {
      for (const [wid, token] of [
        [unknown, undefined],
        [workspaceId, tokenB],
      ] as const) {
        const res = await host.api(`/v1/workspaces/${wid}/snapshots`, {
          method,
          ...(method === 'POST'
            ? { headers: { 'content-type': 'application/json' }, body: '{}' }
            : {}),
          ...(token !== undefined ? { token } : {}),
        });
        expect(res.status, `${method} ${wid}`).toBe(404);
        expect(await res.json()).toMatchObject({ error: { code: 'not_found' } });
      }
    }
    // Tenant B's attempts took no snapshot of A's workspace.
    expect(await list(workspaceId)).toEqual([]);
  });

  it('restores the files of a snapshot, in the store and in the idle container, and refuses bad input', async () => {
    const { workspaceId, conversationId } = await host.conversation();
    const put = await host.api(`/v1/workspaces/${workspaceId}/files/a.txt`, {
      method: 'PUT',
      body: 'one\n',
    });
    expect(put.status).toBe(201);
    const restore = (wid: string, body: unknown, token?: string) =>
      host.api(`/v1/workspaces/${wid}/restore`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        ...(token !== undefined ? { token } : {}),
      });
    const taken = await host.api(`/v1/workspaces/${workspaceId}/snapshots`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    const first = (await taken.json()) as SnapshotItem;
    const run = await host.send(conversationId, bash('echo two > a.txt && echo new > b.txt'));
    expect(run.at(-1)?.event).toBe('run.completed');

    expect(await host.wc.snapshots.restore(workspaceId, first.id)).toMatchObject({
      id: first.id,
      files: 1,
    });
    const files = await host.wc.files.list(workspaceId);
    expect(files.map((f) => f.path)).toEqual(['a.txt']);
    expect(await (await host.api(`/v1/workspaces/${workspaceId}/files/a.txt`)).text()).toBe(
      'one\n',
    );
    // The container the run used has the restored tree too.
    const check = await host.send(
      conversationId,
      bash('{ cat a.txt; test -e b.txt && echo b-present; } > seen.txt'),
    );
    expect(check.at(-1)?.event).toBe('run.completed');
    expect(await (await host.api(`/v1/workspaces/${workspaceId}/files/seen.txt`)).text()).toBe(
      'one\n',
    );

    const other = await host.conversation();
    const unknownSnapshot = `snap_${'1'.repeat(13)}${'a'.repeat(12)}`;
    for (const [wid, body, token, status] of [
      [workspaceId, { snapshotId: unknownSnapshot }, undefined, 404],
      [workspaceId, { snapshotId: 'not-a-snapshot' }, undefined, 404],
      [other.workspaceId, { snapshotId: first.id }, undefined, 404],
      [workspaceId, { snapshotId: first.id }, tokenB, 404],
      [`ws_${randomBytes(8).toString('hex')}`, { snapshotId: first.id }, undefined, 404],
      [workspaceId, {}, undefined, 400],
      [workspaceId, { snapshotId: first.id, extra: true }, undefined, 400],
    ] as const) {
      const bad = await restore(wid, body, token);
      expect(bad.status, JSON.stringify(body)).toBe(status);
    }

    // While a run holds the workspace: 409 workspace_busy, and the files stay as they are.
    const lease = LEASES.workspace(workspaceId);
    expect(await host.workcell.state.acquireLease(lease, 'a-run', 60_000)).toBe(true);
    try {
      const busy = await restore(workspaceId, { snapshotId: first.id });
      expect(busy.status).toBe(409);
      expect(await busy.json()).toMatchObject({ error: { code: 'workspace_busy' } });
    } finally {
      await host.workcell.state.releaseLease(lease, 'a-run');
    }
    expect((await host.wc.files.list(workspaceId)).map((f) => f.path).sort()).toEqual([
      'a.txt',
      'seen.txt',
    ]);
  });

  // Last: it moves the host's clock two hours ahead.
  it("leaves none of a deleted workspace's objects after GC passes, and keeps bytes another workspace names", async () => {
    const keep = await host.conversation();
    const doomed = await host.conversation();
    const put = async (wid: string, path: string, body: string): Promise<void> => {
      const res = await host.api(`/v1/workspaces/${wid}/files/${path}`, { method: 'PUT', body });
      expect(res.status).toBe(201);
    };
    await put(keep.workspaceId, 'shared.txt', 'in both workspaces\n');
    await put(doomed.workspaceId, 'shared.txt', 'in both workspaces\n');
    const events = await host.send(doomed.conversationId, bash('echo only here > own.txt'));
    expect(events.at(-1)?.event).toBe('run.completed');
    expect((await list(doomed.workspaceId)).length).toBeGreaterThan(0);
    const objects = host.workcell.objects;
    const blobsPrefix = `tenants/${host.tenant}/blobs/`;
    const blobsBefore = (await objects.list(blobsPrefix)).map((o) => o.key);

    const del = await host.api(`/v1/workspaces/${doomed.workspaceId}`, { method: 'DELETE' });
    expect(del.status).toBe(204);
    expect(await objects.list(`tenants/${host.tenant}/workspaces/${doomed.workspaceId}/`)).toEqual(
      [],
    );
    // The deletion started a collection; GC passes a grace apart delete what only it named.
    for (let i = 0; i < 2; i += 1) {
      clock.aheadMs += HOUR + 120_000;
      const report = await host.workcell.gc.runOnce();
      expect(report.skipped).toBeUndefined();
    }
    const blobsAfter = (await objects.list(blobsPrefix)).map((o) => o.key);
    const removed = blobsBefore.filter((k) => !blobsAfter.includes(k));
    expect(removed).toHaveLength(1);
    const left = (await objects.list(`tenants/${host.tenant}/`)).map((o) => o.key);
    expect(left.filter((k) => k.includes(doomed.workspaceId))).toEqual([]);
    expect(left.filter((k) => k.includes('/blob-staging/'))).toEqual([]);
    const kept = await host.api(`/v1/workspaces/${keep.workspaceId}/files/shared.txt`);
    expect(await kept.text()).toBe('in both workspaces\n');
  });
});
