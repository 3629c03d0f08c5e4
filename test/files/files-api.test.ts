import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHost, type TestHost } from '../support/host.js';

/** Sends a request with the path exactly as given (fetch would resolve `..` and `%2e`). */
function rawRequest(
  base: string,
  method: string,
  path: string,
  token: string,
  body?: string,
): Promise<{ status: number; text: string }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        method,
        path,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' },
      },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('files API', () => {
  let host: TestHost;
  let wid: string;

  beforeAll(async () => {
    host = await startTestHost({ maxFileBytes: 64 * 1024 });
    ({ workspaceId: wid } = await host.conversation());
  });
  afterAll(async () => {
    await host?.close();
  });

  const filesOf = async (): Promise<string[]> =>
    (await host.wc.files.list(wid)).map((f) => f.path).sort();

  it('stores, lists, serves and deletes files', async () => {
    const put = await host.api(`/v1/workspaces/${wid}/files/src/app.py`, {
      method: 'PUT',
      body: 'print("hi")\n',
    });
    expect(put.status).toBe(201);
    const created = (await put.json()) as { path: string; size: number; sha256: string };
    expect(created).toMatchObject({ path: 'src/app.py', size: 12 });
    expect(created.sha256).toMatch(/^[0-9a-f]{64}$/);
    const json = await host.api(`/v1/workspaces/${wid}/files/data.json`, {
      method: 'PUT',
      body: '{"a":1}',
      headers: { 'content-type': 'application/json' },
    });
    expect(json.status).toBe(201);

    expect(await filesOf()).toEqual(['data.json', 'src/app.py']);
    const prefixed = await host.wc.files.list(wid, { prefix: 'src/' });
    expect(prefixed.map((f) => f.path)).toEqual(['src/app.py']);

    const got = await host.api(`/v1/workspaces/${wid}/files/src/app.py`);
    expect(got.status).toBe(200);
    expect(got.headers.get('content-type')).toContain('text/x-python');
    expect(got.headers.get('etag')).toBe(`"${created.sha256}"`);
    expect(await got.text()).toBe('print("hi")\n');
    expect(
      (await host.api(`/v1/workspaces/${wid}/files/data.json`)).headers.get('content-type'),
    ).toBe('application/json');

    const notModified = await host.api(`/v1/workspaces/${wid}/files/src/app.py`, {
      headers: { 'if-none-match': `"${created.sha256}"` },
    });
    expect(notModified.status).toBe(304);
    const ranged = await host.api(`/v1/workspaces/${wid}/files/src/app.py`, {
      headers: { range: 'bytes=6-9' },
    });
    expect(ranged.status).toBe(206);
    expect(ranged.headers.get('content-range')).toBe('bytes 6-9/12');
    expect(await ranged.text()).toBe('"hi"');
    const suffix = await host.api(`/v1/workspaces/${wid}/files/src/app.py`, {
      headers: { range: 'bytes=-3' },
    });
    expect(await suffix.text()).toBe('")\n');
    const unsatisfiable = await host.api(`/v1/workspaces/${wid}/files/src/app.py`, {
      headers: { range: 'bytes=100-200' },
    });
    expect(unsatisfiable.status).toBe(416);

    // A name cannot be both a file and a directory.
    const clash = await host.api(`/v1/workspaces/${wid}/files/src`, { method: 'PUT', body: 'x' });
    expect(clash.status).toBe(409);
    expect(((await clash.json()) as { error: { code: string } }).error.code).toBe('conflict');

    const del = await host.api(`/v1/workspaces/${wid}/files/data.json`, { method: 'DELETE' });
    expect(del.status).toBe(204);
    expect(await filesOf()).toEqual(['src/app.py']);
    expect((await host.api(`/v1/workspaces/${wid}/files/data.json`)).status).toBe(404);
    expect(
      (await host.api(`/v1/workspaces/${wid}/files/data.json`, { method: 'DELETE' })).status,
    ).toBe(404);
  });

  it('refuses a file over WORKCELL_MAX_FILE_BYTES with 413 and keeps nothing of it', async () => {
    const before = await filesOf();
    const big = 'x'.repeat(64 * 1024 + 1);
    const res = await host.api(`/v1/workspaces/${wid}/files/big.bin`, { method: 'PUT', body: big });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe(
      'payload_too_large',
    );
    // Streamed without a length: the limit still holds.
    const chunked = await host.api(`/v1/workspaces/${wid}/files/big2.bin`, {
      method: 'PUT',
      body: new ReadableStream({
        start(c) {
          for (let i = 0; i < 70; i += 1) c.enqueue(new TextEncoder().encode('y'.repeat(1024)));
          c.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    expect(chunked.status).toBe(413);
    expect(await filesOf()).toEqual(before);
    const stored = await host.workcell.objects.list(
      `tenants/${host.tenant}/workspaces/${wid}/files/`,
    );
    expect(stored.map((o) => o.key).filter((k) => k.includes('big'))).toEqual([]);
  });

  it.each([
    ['../x', '/files/../x'],
    ['/etc/passwd', '/files//etc/passwd'],
    ['a/../../b', '/files/a/../../b'],
    ['a\\0b', '/files/a%00b'],
    ['%2e%2e/x', '/files/%2e%2e/x'],
    ['a 5,000-character name', `/files/${'n'.repeat(5000)}`],
    [
      'a name that differs only in Unicode normalisation (NFD)',
      `/files/${encodeURIComponent('cafe\u0301.txt')}`,
    ],
    ['a backslash', '/files/a%5C..%5Cb'],
    ['a control character', '/files/a%0Ab'],
  ])('refuses %s with 400 invalid_path and writes nothing', async (_name, suffix) => {
    const before = await filesOf();
    const res = await rawRequest(
      host.url,
      'PUT',
      `/v1/workspaces/${wid}${suffix}`,
      host.token,
      'payload',
    );
    expect(res.status).toBe(400);
    expect((JSON.parse(res.text) as { error: { code: string } }).error.code).toBe('invalid_path');
    const get = await rawRequest(host.url, 'GET', `/v1/workspaces/${wid}${suffix}`, host.token);
    expect(get.status).toBe(400);
    expect(await filesOf()).toEqual(before);
  });

  it('keeps the NFC name and the NFD name from ever both existing', async () => {
    const nfc = await host.api(
      `/v1/workspaces/${wid}/files/${encodeURIComponent('caf\u00e9.txt')}`,
      { method: 'PUT', body: 'nfc' },
    );
    expect(nfc.status).toBe(201);
    const nfd = await rawRequest(
      host.url,
      'PUT',
      `/v1/workspaces/${wid}/files/${encodeURIComponent('cafe\u0301.txt')}`,
      host.token,
      'nfd',
    );
    expect(nfd.status).toBe(400);
    expect((await filesOf()).filter((p) => p.startsWith('caf'))).toEqual(['caf\u00e9.txt']);
  });

  it('answers 404 for files of unknown or other tenants\u2019 workspaces', async () => {
    expect((await host.api('/v1/workspaces/ws_0000000000000000/files')).status).toBe(404);
    expect(
      (
        await host.api('/v1/workspaces/ws_0000000000000000/files/a.txt', {
          method: 'PUT',
          body: 'x',
        })
      ).status,
    ).toBe(404);
  });
});
