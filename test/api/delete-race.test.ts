import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { workspaceRoot } from '../../packages/host/src/storage/layout.js';
import { readSse } from '../support/sse.js';
import { docker, startTestHost, type TestHost } from '../support/host.js';

/** What a workspace leaves behind on the host: its container, its slot directory, its objects. */
async function traces(host: TestHost, workspaceId: string, known: string[] = []) {
  const records = (await host.workcell.state.listContainers()).filter(
    (r) => r.workspaceId === workspaceId,
  );
  const containers: string[] = [];
  for (const id of new Set([...known, ...records.map((r) => r.id)])) {
    const found = await docker('ps', '-aq', '--no-trunc', '--filter', `id=${id}`);
    if (found.trim()) containers.push(id);
  }
  return {
    records: records.map((r) => r.id),
    containers,
    slots: records.map((r) => host.workcell.slots.slot(r.slotId).root),
    objects: (await host.workcell.objects.list(workspaceRoot(host.tenant, workspaceId))).map(
      (o) => o.key,
    ),
  };
}

/** A message posted as a client does; answers the status and, for a run, its event names. */
async function message(host: TestHost, conversationId: string, content: string) {
  const res = await host.api(`/v1/conversations/${conversationId}/messages`, {
    method: 'POST',
    headers: { accept: 'text/event-stream' },
    body: JSON.stringify({ content }),
  });
  if (res.status !== 200) {
    const body = (await res.json()) as { error?: { code?: string } };
    return { status: res.status, code: body.error?.code ?? null, events: [] as string[] };
  }
  const events = await readSse(res);
  return { status: 200, code: null, events: events.map((e) => e.event) };
}

describe('DELETE /v1/workspaces/:wid racing a message (real Docker)', () => {
  let host: TestHost;

  beforeAll(async () => {
    host = await startTestHost();
  });

  afterAll(async () => {
    await host?.close();
  });

  it('leaves no container, slot or stored object, and the racing message gets a clear error', async () => {
    const outcomes: string[] = [];
    for (let round = 0; round < 3; round++) {
      const { workspaceId, conversationId } = await host.conversation();
      const put = await host.api(`/v1/workspaces/${workspaceId}/files/notes.txt`, {
        method: 'PUT',
        body: 'kept until the workspace goes\n',
        headers: { 'content-type': 'text/plain' },
      });
      expect(put.status).toBe(201);
      // A first run assigns a container and a slot and stores the session and files.
      const first = await message(
        host,
        conversationId,
        'MOCK:{"tool": "Write", "input": {"file_path": "out.txt", "content": "x"}}\nMOCK:{"text": "ok"}',
      );
      expect(first.events).toContain('run.completed');
      const before = await traces(host, workspaceId);
      expect(before.containers).toHaveLength(1);
      expect(before.slots.every((s) => existsSync(s))).toBe(true);
      expect(before.objects.length).toBeGreaterThan(1);

      // The race: a message and the delete at once; later rounds give the message a head start.
      const racing = message(
        host,
        conversationId,
        'MOCK:{"sleep_ms": 1500}\nMOCK:{"text": "late"}',
      );
      if (round > 0) await new Promise((r) => setTimeout(r, round * 150));
      let deleted = await host.api(`/v1/workspaces/${workspaceId}`, { method: 'DELETE' });
      const raced = await racing;
      if (deleted.status === 409) {
        // The run held the workspace: the delete was refused with workspace_busy, and the run
        // ran to its end. Now it is free, so the delete goes through.
        expect(((await deleted.json()) as { error: { code: string } }).error.code).toBe(
          'workspace_busy',
        );
        expect(raced.status).toBe(200);
        outcomes.push('message first');
        deleted = await host.api(`/v1/workspaces/${workspaceId}`, { method: 'DELETE' });
      } else {
        // The delete held the workspace: the message was refused with a clear code.
        expect(raced.status === 200 ? raced.events : raced.code).toSatisfy(
          (v: unknown) =>
            v === 'workspace_busy' ||
            v === 'not_found' ||
            (Array.isArray(v) && v.includes('run.completed')),
        );
        outcomes.push(
          raced.status === 200 ? 'message then delete' : `delete first (${raced.code})`,
        );
      }
      expect(deleted.status).toBe(204);

      const after = await traces(host, workspaceId, before.containers);
      expect(after.containers, `containers left: ${before.containers.join(',')}`).toEqual([]);
      expect(after.records).toEqual([]);
      for (const slot of before.slots) expect(existsSync(slot), slot).toBe(false);
      expect(after.objects).toEqual([]);
      expect((await host.api(`/v1/workspaces/${workspaceId}`)).status).toBe(404);
      const late = await message(host, conversationId, 'MOCK:{"text": "too late"}');
      expect(late).toMatchObject({ status: 404, code: 'not_found' });
    }
    console.log(`delete race outcomes: ${outcomes.join('; ')}`);
  });
});
