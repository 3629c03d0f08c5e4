import { afterEach, describe, expect, it } from 'vitest';
import { Catalog } from '../../src/catalog/catalog.js';
import { encodeCursor } from '../../src/catalog/page.js';
import { DirectoryObjectStore } from '../../src/storage/directory-store.js';
import { TOKEN_A, apiHarness, bearer, type ApiHarness } from './support.js';

let h: ApiHarness;
afterEach(async () => {
  await h?.close();
});

async function get(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await h.app.inject({ method: 'GET', url, headers: bearer(TOKEN_A) });
  return { status: res.statusCode, body: res.json<Record<string, unknown>>() };
}

/** Follows `nextCursor` from the first page to the last; answers the items' `key` values. */
async function pages(
  url: string,
  field: string,
  key: string,
  limit: number,
): Promise<{ keys: string[]; pages: number }> {
  const keys: string[] = [];
  let cursor: string | null = null;
  let count = 0;
  do {
    const sep = url.includes('?') ? '&' : '?';
    const res = await get(
      `${url}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    );
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const items = res.body[field] as Record<string, string>[];
    expect(items.length).toBeLessThanOrEqual(limit);
    keys.push(...items.map((i) => i[key] as string));
    cursor = res.body.nextCursor as string | null;
    count += 1;
  } while (cursor !== null);
  return { keys, pages: count };
}

describe('lists that grow: ?limit=&cursor= -> nextCursor', () => {
  it('pages workspaces, conversations, runs and files, each item once, in order', async () => {
    h = await apiHarness();
    const { workspaceId, conversationId } = await h.conversation();
    const catalog = new Catalog(new DirectoryObjectStore({ root: h.dataDir }));
    for (let i = 0; i < 6; i += 1) await catalog.createWorkspace('tenant-a', `w${i}`);
    const convs = [conversationId];
    for (let i = 0; i < 6; i += 1)
      convs.push((await catalog.createConversation('tenant-a', workspaceId, `c${i}`)).id);
    const conversation = await catalog.getConversation('tenant-a', conversationId);
    const runIds = Array.from({ length: 7 }, (_, i) => `run_${String(i).padStart(16, '0')}`);
    await catalog.updateConversation(conversation, (c) => {
      c.runs = runIds.map((id, i) => ({
        id,
        conversationId,
        status: 'completed',
        startedAt: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
        endedAt: null,
        interrupted: false,
        error: null,
        summary: null,
        eventCount: 0,
      }));
    });
    const paths = ['b.txt', 'a.txt', 'dir/c.txt', 'dir/a.txt', 'z.txt'];
    for (const p of paths) {
      const res = await h.app.inject({
        method: 'PUT',
        url: `/v1/workspaces/${workspaceId}/files/${p}`,
        headers: { ...bearer(TOKEN_A), 'content-type': 'text/plain' },
        payload: p,
      });
      expect(res.statusCode).toBe(201);
    }

    const ws = await pages('/v1/workspaces', 'workspaces', 'id', 3);
    expect(ws.pages).toBe(3);
    expect(new Set(ws.keys).size).toBe(7);
    expect(ws.keys[0]).toBe(workspaceId);

    const cs = await pages(`/v1/workspaces/${workspaceId}/conversations`, 'conversations', 'id', 4);
    expect(cs.pages).toBe(2);
    expect([...cs.keys].sort()).toEqual([...convs].sort());

    const rs = await pages(`/v1/conversations/${conversationId}/runs`, 'runs', 'id', 2);
    expect(rs.keys).toEqual(runIds);
    expect(rs.pages).toBe(4);

    const fs = await pages(`/v1/workspaces/${workspaceId}/files`, 'files', 'path', 2);
    expect(fs.keys).toEqual([...paths].sort());
    const prefixed = await pages(
      `/v1/workspaces/${workspaceId}/files?prefix=dir/`,
      'files',
      'path',
      1,
    );
    expect(prefixed.keys).toEqual(['dir/a.txt', 'dir/c.txt']);
  });

  it('keeps the old shape, with nextCursor null, when everything fits the default page', async () => {
    h = await apiHarness();
    const { workspaceId } = await h.conversation();
    const res = await get('/v1/workspaces');
    expect(res.body).toEqual({
      workspaces: [expect.objectContaining({ id: workspaceId })],
      nextCursor: null,
    });
    const convs = await get(`/v1/workspaces/${workspaceId}/conversations`);
    expect(convs.body.nextCursor).toBeNull();
  });

  it.each([
    ['not base64 at all: !!', 'invalid_cursor'],
    ['eyJub3QiOiJhIGN1cnNvciJ9', 'invalid_cursor'],
    [encodeCursor('files', 'a.txt'), 'invalid_cursor'],
    [Buffer.from('{"l":"workspaces","k":""}').toString('base64url'), 'invalid_cursor'],
    [Buffer.from('[1,2]').toString('base64url'), 'invalid_cursor'],
  ])('refuses the bad cursor %s with %s', async (cursor, code) => {
    h = await apiHarness();
    const res = await get(`/v1/workspaces?cursor=${encodeURIComponent(cursor)}`);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: { code } });
  });

  it.each(['0', '1001', '-1', 'ten', '1.5', ''])(
    'refuses the limit %j with validation_failed',
    async (limit) => {
      h = await apiHarness();
      const { workspaceId, conversationId } = await h.conversation();
      for (const url of [
        '/v1/workspaces',
        `/v1/workspaces/${workspaceId}/conversations`,
        `/v1/workspaces/${workspaceId}/files`,
        `/v1/conversations/${conversationId}/runs`,
      ]) {
        const res = await get(`${url}?limit=${encodeURIComponent(limit)}`);
        expect(res.status, url).toBe(400);
        expect(res.body, url).toMatchObject({ error: { code: 'validation_failed' } });
      }
    },
  );

  it("refuses another list's cursor on every list", async () => {
    h = await apiHarness();
    const { workspaceId, conversationId } = await h.conversation();
    const cursor = encodeCursor('workspaces', '0000000000000.ws_x');
    for (const url of [
      `/v1/workspaces/${workspaceId}/conversations`,
      `/v1/workspaces/${workspaceId}/files`,
      `/v1/conversations/${conversationId}/runs`,
    ]) {
      const res = await get(`${url}?cursor=${cursor}`);
      expect(res.status, url).toBe(400);
      expect(res.body, url).toMatchObject({ error: { code: 'invalid_cursor' } });
    }
  });
});
