import { afterEach, describe, expect, it } from 'vitest';
import { TOKEN_A, TOKEN_B, apiHarness, bearer, type ApiHarness } from './support.js';

let h: ApiHarness;
afterEach(async () => {
  await h?.close();
});

describe('GET|POST /v1/workspaces/:wid/snapshots', () => {
  it('takes snapshots, lists them newest first a page at a time, and hides them from other tenants', async () => {
    h = await apiHarness();
    const { workspaceId } = await h.conversation();
    const put = await h.app.inject({
      method: 'PUT',
      url: `/v1/workspaces/${workspaceId}/files/notes.txt`,
      headers: { ...bearer(TOKEN_A), 'content-type': 'application/octet-stream' },
      payload: Buffer.from('hello'),
    });
    expect(put.statusCode, put.body).toBe(201);
    const ids: string[] = [];
    for (let i = 0; i < 3; i += 1) {
      const res = await h.app.inject({
        method: 'POST',
        url: `/v1/workspaces/${workspaceId}/snapshots`,
        headers: bearer(TOKEN_A),
      });
      expect(res.statusCode, res.body).toBe(201);
      const body = res.json<{ id: string; files: number; bytes: number }>();
      expect(body).toMatchObject({ files: 1, bytes: 5 });
      ids.push(body.id);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const first = await h.app.inject({
      method: 'GET',
      url: `/v1/workspaces/${workspaceId}/snapshots?limit=2`,
      headers: bearer(TOKEN_A),
    });
    const page = first.json<{ snapshots: { id: string }[]; nextCursor: string | null }>();
    expect(page.snapshots.map((s) => s.id)).toEqual([ids[2], ids[1]]);
    expect(page.nextCursor).not.toBeNull();
    const second = await h.app.inject({
      method: 'GET',
      url: `/v1/workspaces/${workspaceId}/snapshots?limit=2&cursor=${page.nextCursor}`,
      headers: bearer(TOKEN_A),
    });
    expect(second.json<{ snapshots: { id: string }[] }>().snapshots.map((s) => s.id)).toEqual([
      ids[0],
    ]);
    for (const method of ['GET', 'POST'] as const) {
      const other = await h.app.inject({
        method,
        url: `/v1/workspaces/${workspaceId}/snapshots`,
        headers: bearer(TOKEN_B),
      });
      expect(other.statusCode).toBe(404);
    }
  });
});
