import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DirectoryObjectStore } from '../../src/storage/directory-store.js';
import { tenantBlobs } from '../../src/sync/content.js';
import { syncIn } from '../../src/sync/file-sync.js';
import {
  deleteWorkspaceFile,
  getWorkspaceFile,
  listWorkspaceFiles,
  putWorkspaceFile,
} from '../../src/sync/workspace-files.js';
import { RecordingStore } from './support.js';

const PREFIX = 'ws/files/';

function sha(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
const MANIFEST = 'ws/manifest.json';

describe('workspace files through the manifest', () => {
  let base: string;
  let store: RecordingStore;
  const at = { filesPrefix: PREFIX, manifestKey: MANIFEST, blobs: tenantBlobs('t1') };

  beforeEach(async () => {
    base = await mkdtemp(join(tmpdir(), 'workcell-wsfiles-'));
    store = new RecordingStore(new DirectoryObjectStore({ root: join(base, 'objects') }));
  });

  afterEach(async () => {
    await rm(base, { recursive: true, force: true });
  });

  it('lists files from the manifest alone, in path order', async () => {
    expect(await listWorkspaceFiles(store, MANIFEST)).toEqual([]);
    const now = () => Date.parse('2030-01-02T03:04:05.000Z');
    await putWorkspaceFile({
      store,
      ...at,
      path: 'b.txt',
      body: Buffer.from('bee'),
      maxFileBytes: 100,
      now,
    });
    await putWorkspaceFile({
      store,
      ...at,
      path: 'a/z.txt',
      body: Readable.from([Buffer.from('zed')]),
      maxFileBytes: 100,
      now,
    });
    store.take();
    expect(await listWorkspaceFiles(store, MANIFEST)).toEqual([
      {
        path: 'a/z.txt',
        size: 3,
        sha256: sha('zed'),
        modifiedAt: '2030-01-02T03:04:05.000Z',
      },
      expect.objectContaining({ path: 'b.txt', size: 3 }),
    ]);
    expect(store.take()).toEqual([`getBuffer ${MANIFEST}`]);
  });

  it('stores a file the next sync in writes into the workspace', async () => {
    const put = await putWorkspaceFile({
      store,
      ...at,
      path: 'docs/readme.md',
      body: Buffer.from('# hi'),
      maxFileBytes: 100,
    });
    expect(put).toEqual({
      path: 'docs/readme.md',
      size: 4,
      sha256: sha('# hi'),
    });
    const dir = join(base, 'workspace');
    await syncIn({ dir, store, ...at });
    expect(await readFile(join(dir, 'docs/readme.md'), 'utf8')).toBe('# hi');
    const got = await getWorkspaceFile({
      store,
      ...at,
      path: 'docs/readme.md',
      range: { start: 2 },
    });
    expect(got?.sha256).toBe(put.sha256);
    expect((await got!.body.toArray()).join('')).toBe('hi');
  });

  it('refuses a path that clashes with a file or directory, a bad path, and a body over the limit', async () => {
    await putWorkspaceFile({
      store,
      ...at,
      path: 'a/b.txt',
      body: Buffer.from('x'),
      maxFileBytes: 10,
    });
    await expect(
      putWorkspaceFile({ store, ...at, path: 'a', body: Buffer.from('x'), maxFileBytes: 10 }),
    ).rejects.toMatchObject({
      code: 'conflict',
    });
    await expect(
      putWorkspaceFile({
        store,
        ...at,
        path: 'a/b.txt/c',
        body: Buffer.from('x'),
        maxFileBytes: 10,
      }),
    ).rejects.toMatchObject({ code: 'conflict' });
    await expect(
      putWorkspaceFile({ store, ...at, path: '../x', body: Buffer.from('x'), maxFileBytes: 10 }),
    ).rejects.toMatchObject({
      code: 'invalid_path',
    });
    await expect(
      putWorkspaceFile({
        store,
        ...at,
        path: 'big',
        body: Readable.from([Buffer.alloc(11)]),
        maxFileBytes: 10,
      }),
    ).rejects.toMatchObject({ code: 'payload_too_large' });
    expect((await listWorkspaceFiles(store, MANIFEST)).map((f) => f.path)).toEqual(['a/b.txt']);
  });

  it('deletes a file from the manifest and the store, and answers false for a missing one', async () => {
    await putWorkspaceFile({ store, ...at, path: 'f', body: Buffer.from('x'), maxFileBytes: 10 });
    expect(await deleteWorkspaceFile({ store, ...at, path: 'f' })).toBe(true);
    expect(await deleteWorkspaceFile({ store, ...at, path: 'f' })).toBe(false);
    expect(await listWorkspaceFiles(store, MANIFEST)).toEqual([]);
    expect(await store.head(`${PREFIX}f`)).toBeNull();
    expect(await getWorkspaceFile({ store, ...at, path: 'f' })).toBeNull();
  });
});
