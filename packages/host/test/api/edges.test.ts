import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { workspaceLockName } from '../../src/state/leases.js';
import { TOKEN_A, TOKEN_B, apiHarness, bearer, type ApiHarness } from './support.js';

let h: ApiHarness;
afterEach(async () => {
  await h?.close();
});

/** Sends raw request head bytes and answers the first response line the server writes. */
async function rawStatus(h: ApiHarness, head: string): Promise<string> {
  await h.app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = h.app.server.address() as AddressInfo;
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(head));
    let got = '';
    socket.on('data', (chunk) => {
      got += chunk.toString('latin1');
      if (got.includes('\r\n')) {
        socket.destroy();
        resolve(got.split('\r\n')[0] as string);
      }
    });
    socket.on('error', reject);
    socket.setTimeout(5_000, () => reject(new Error('no answer before the body was sent')));
  });
}

describe('API: request size limits', () => {
  it('answers 413 to a JSON message padded past the body limit', async () => {
    h = await apiHarness();
    const { conversationId } = await h.conversation();
    const res = await h.app.inject({
      method: 'POST',
      url: `/v1/conversations/${conversationId}/messages`,
      headers: { ...bearer(TOKEN_A), 'content-type': 'application/json' },
      payload: JSON.stringify({ content: 'x', padding: 'y'.repeat(65 * 1024) }),
    });
    expect(res.statusCode).toBe(413);
    expect(res.json()).toMatchObject({ error: { code: 'payload_too_large' } });
  });

  it('answers 413 to a JSON PUT announcing a huge Content-Length, before its body is sent', async () => {
    h = await apiHarness();
    const { workspaceId } = await h.conversation();
    const status = await rawStatus(
      h,
      `PUT /v1/workspaces/${workspaceId}/egress HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN_A}\r\n` +
        `Content-Type: application/json\r\nContent-Length: 10737418240\r\n\r\n`,
    );
    expect(status).toBe('HTTP/1.1 413 Payload Too Large');
  });

  it('answers 413 to a file PUT announcing a huge Content-Length, before its body is sent', async () => {
    h = await apiHarness();
    const { workspaceId } = await h.conversation();
    const status = await rawStatus(
      h,
      `PUT /v1/workspaces/${workspaceId}/files/big.bin HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN_A}\r\n` +
        `Content-Type: application/octet-stream\r\nContent-Length: 10737418240\r\n\r\n`,
    );
    expect(status).toBe('HTTP/1.1 413 Payload Too Large');
  });

  it('refuses a file over the size limit through the files service, storing nothing', async () => {
    h = await apiHarness();
    const { workspaceId } = await h.conversation();
    // Chunked, so only the files service sees the size.
    const big = Buffer.alloc(1024 * 1024 + 1, 7);
    const res = await h.app.inject({
      method: 'PUT',
      url: `/v1/workspaces/${workspaceId}/files/big.bin`,
      headers: { ...bearer(TOKEN_A), 'transfer-encoding': 'chunked' },
      payload: big,
    });
    expect(res.statusCode).toBe(413);
    const list = await h.app.inject({
      method: 'GET',
      url: `/v1/workspaces/${workspaceId}/files`,
      headers: bearer(TOKEN_A),
    });
    expect(list.json()).toEqual({ files: [], nextCursor: null });
  });
});

describe('API: tenancy', () => {
  it("answers 404 to another tenant's workspace on every files route", async () => {
    h = await apiHarness();
    const { workspaceId } = await h.conversation();
    const put = await h.app.inject({
      method: 'PUT',
      url: `/v1/workspaces/${workspaceId}/files/a.txt`,
      headers: bearer(TOKEN_A),
      payload: 'secret',
    });
    expect(put.statusCode).toBe(201);
    for (const [method, path] of [
      ['GET', 'files'],
      ['GET', 'files/a.txt'],
      ['PUT', 'files/a.txt'],
      ['DELETE', 'files/a.txt'],
    ] as const) {
      const res = await h.app.inject({
        method,
        url: `/v1/workspaces/${workspaceId}/${path}`,
        headers: bearer(TOKEN_B),
        ...(method === 'PUT' ? { payload: 'overwrite' } : {}),
      });
      expect(res.statusCode, `${method} ${path}`).toBe(404);
      expect(res.json()).toMatchObject({ error: { code: 'not_found' } });
    }
    const mine = await h.app.inject({
      method: 'GET',
      url: `/v1/workspaces/${workspaceId}/files/a.txt`,
      headers: bearer(TOKEN_A),
    });
    expect(mine.body).toBe('secret');
  });

  it("the catalog refuses another tenant's workspace and conversation ids", async () => {
    h = await apiHarness();
    const { workspaceId, conversationId } = await h.conversation();
    await expect(h.catalog.getWorkspace('tenant-b', workspaceId)).rejects.toMatchObject({
      code: 'not_found',
    });
    await expect(h.catalog.getConversation('tenant-b', conversationId)).rejects.toMatchObject({
      code: 'not_found',
    });
    await expect(h.catalog.listConversations('tenant-b', workspaceId)).rejects.toMatchObject({
      code: 'not_found',
    });
    expect(await h.catalog.listWorkspaces('tenant-b')).toEqual([]);
  });
});

describe('API: deleting a workspace', () => {
  it('answers workspace_busy while a run holds the workspace, and deletes it once free', async () => {
    h = await apiHarness();
    const { workspaceId, conversationId } = await h.conversation();
    await h.state.acquireLease(workspaceLockName(workspaceId), 'run_other', 30_000);
    const busy = await h.app.inject({
      method: 'DELETE',
      url: `/v1/workspaces/${workspaceId}`,
      headers: bearer(TOKEN_A),
    });
    expect(busy.statusCode).toBe(409);
    expect(busy.json()).toMatchObject({ error: { code: 'workspace_busy' } });
    await h.state.releaseLease(workspaceLockName(workspaceId), 'run_other');

    const gone = await h.app.inject({
      method: 'DELETE',
      url: `/v1/workspaces/${workspaceId}`,
      headers: bearer(TOKEN_A),
    });
    expect(gone.statusCode).toBe(204);
    expect(await h.state.getLeaseHolder(workspaceLockName(workspaceId))).toBeNull();
    const message = await h.app.inject({
      method: 'POST',
      url: `/v1/conversations/${conversationId}/messages`,
      headers: bearer(TOKEN_A),
      payload: { content: 'hello' },
    });
    expect(message.statusCode).toBe(404);
  });
});

describe('API: CORS', () => {
  const origin = 'https://console.example.com';

  it('lets a listed origin read answers and answers its preflight before authentication', async () => {
    h = await apiHarness({ corsOrigins: [origin] });
    const preflight = await h.app.inject({
      method: 'OPTIONS',
      url: '/v1/workspaces',
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type',
      },
    });
    expect(preflight.statusCode).toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBe(origin);
    expect(preflight.headers['access-control-allow-headers']).toContain('authorization');
    expect(preflight.headers['access-control-allow-credentials']).toBeUndefined();

    const list = await h.app.inject({
      method: 'GET',
      url: '/v1/workspaces',
      headers: { origin, ...bearer(TOKEN_A) },
    });
    expect(list.statusCode).toBe(200);
    expect(list.headers['access-control-allow-origin']).toBe(origin);
    expect(list.headers.vary).toContain('Origin');
  });

  it('sends no CORS header to an origin not listed, nor to any origin by default', async () => {
    h = await apiHarness({ corsOrigins: [origin] });
    const other = await h.app.inject({
      method: 'GET',
      url: '/v1/workspaces',
      headers: { origin: 'https://evil.example.com', ...bearer(TOKEN_A) },
    });
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
    const preflight = await h.app.inject({
      method: 'OPTIONS',
      url: '/v1/workspaces',
      headers: { origin: 'https://evil.example.com', 'access-control-request-method': 'POST' },
    });
    expect(preflight.statusCode).not.toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
    await h.close();

    h = await apiHarness();
    const none = await h.app.inject({
      method: 'GET',
      url: '/v1/workspaces',
      headers: { origin, ...bearer(TOKEN_A) },
    });
    expect(none.headers['access-control-allow-origin']).toBeUndefined();
  });
});
