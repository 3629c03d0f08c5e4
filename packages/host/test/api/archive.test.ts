import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { downloadFormat } from '../../src/api/routes/archive.js';
import { tarOf } from '../../../../test/support/archives.js';
import { TOKEN_A, apiHarness, bearer, type ApiHarness } from './support.js';

let h: ApiHarness;
afterEach(async () => {
  await h?.close();
});

describe('API: workspace archives', () => {
  it.each([
    [undefined, 'tar.gz'],
    ['*/*', 'tar.gz'],
    ['application/gzip', 'tar.gz'],
    ['application/zip', 'zip'],
    ['application/zip;q=0.9, text/html', 'zip'],
    ['application/zip, application/gzip', 'tar.gz'],
    ['application/x-tar', 'tar'],
    ['application/x-tar, application/gzip', 'tar.gz'],
    ['application/x-tar;q=0.5, application/zip', 'zip'],
  ] as const)('answers Accept %j with %s', (accept, format) => {
    expect(downloadFormat(accept)).toBe(format);
  });

  it('unpacks an upload and answers HEAD with the archive type and no body', async () => {
    h = await apiHarness();
    const { workspaceId } = await h.conversation();
    const up = await h.app.inject({
      method: 'POST',
      url: `/v1/workspaces/${workspaceId}/archive`,
      headers: { ...bearer(TOKEN_A), 'content-type': 'application/x-tar' },
      payload: tarOf([{ name: 'a.txt', body: 'a\n' }]),
    });
    expect(up.statusCode, up.body).toBe(200);
    expect(up.json()).toEqual({ path: '', files: 1, bytes: 2 });
    const head = await h.app.inject({
      method: 'HEAD',
      url: `/v1/workspaces/${workspaceId}/archive`,
      headers: { ...bearer(TOKEN_A), accept: 'application/zip' },
    });
    expect(head.statusCode).toBe(200);
    expect(head.headers['content-type']).toBe('application/zip');
    expect(head.body).toBe('');
  });

  it('answers 413 to a Content-Length past WORKCELL_ARCHIVE_MAX_BYTES before the body is sent', async () => {
    h = await apiHarness();
    const { workspaceId } = await h.conversation();
    await h.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = h.app.server.address() as AddressInfo;
    const status = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () =>
        socket.write(
          `POST /v1/workspaces/${workspaceId}/archive HTTP/1.1\r\nhost: x\r\n` +
            `authorization: Bearer ${TOKEN_A}\r\ncontent-type: application/gzip\r\n` +
            `content-length: ${64 * 1024 * 1024}\r\n\r\n`,
        ),
      );
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
    expect(status).toBe('HTTP/1.1 413 Payload Too Large');
  });
});
