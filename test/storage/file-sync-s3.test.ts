import { execFileSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import {
  mkdir,
  mkdtemp,
  readFile,
  rm,
  symlink,
  truncate,
  unlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import * as layout from '../../packages/host/src/storage/layout.js';
import { S3ObjectStore } from '../../packages/host/src/storage/s3-store.js';
import { syncIn, syncOut } from '../../packages/host/src/sync/file-sync.js';
import { listWorkspaceFiles } from '../../packages/host/src/sync/workspace-files.js';

/** Incremental sync against s3rver, counting the S3 requests each sync sends. */

const SECRET = 'S3-SECRET-b41d7e-must-not-be-uploaded';
const MAX = 64 * 1024 * 1024;

async function writeTree(dir: string, files: Record<string, string | Buffer>): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
}

async function ageAll(dir: string, paths: string[]): Promise<void> {
  const when = new Date(Date.now() - 3_600_000);
  for (const path of paths) await utimes(join(dir, path), when, when);
}

describe('file sync on S3', () => {
  let base: string;
  let dir: string;
  let store: S3ObjectStore;
  let requests: string[];
  const tenant = 'systest';
  let wid: string;
  let at: { filesPrefix: string; manifestKey: string };

  beforeEach(async () => {
    base = await mkdtemp(join(tmpdir(), 'workcell-s3sync-'));
    dir = join(base, 'workspace');
    await mkdir(dir);
    requests = [];
    wid = `w${randomUUID().replaceAll('-', '')}`;
    at = {
      filesPrefix: layout.workspaceFilesPrefix(tenant, wid),
      manifestKey: layout.workspaceManifestKey(tenant, wid),
    };
    store = new S3ObjectStore({
      bucket: inject('s3Bucket'),
      endpoint: inject('s3Endpoint'),
      prefix: `filesync-${randomUUID()}`,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      onRequest: (op, key) => requests.push(key === undefined ? op : `${op} ${key}`),
    });
  });

  afterEach(async () => {
    await store.deletePrefix('');
    await store.close();
    await rm(base, { recursive: true, force: true });
  });

  it('sends one request per changed file, one batched delete and the manifest; none when nothing changed', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 120; i += 1) files[`src/m${i % 5}/f${i}.ts`] = `export const v = ${i};\n`;
    await writeTree(dir, { ...files, 'edit.txt': 'before', 'gone.txt': 'bye' });
    await ageAll(dir, [...Object.keys(files), 'edit.txt', 'gone.txt']);
    const first = await syncOut({ dir, store, ...at, maxFileBytes: MAX });
    expect(first.uploaded).toHaveLength(122);
    requests.length = 0;

    // No change: no request with the cached manifest, one manifest read without it.
    const cached = await syncOut({
      dir,
      store,
      ...at,
      maxFileBytes: MAX,
      previous: first.manifest,
    });
    expect(cached).toMatchObject({ uploaded: [], deleted: [], changed: false });
    expect(requests).toEqual([]);
    await syncOut({ dir, store, ...at, maxFileBytes: MAX });
    expect(requests).toEqual([`GetObject ${at.manifestKey}`]);
    requests.length = 0;

    // Edit one, delete one, create one.
    await writeFile(join(dir, 'edit.txt'), 'after the edit');
    await unlink(join(dir, 'gone.txt'));
    await writeFile(join(dir, 'created.txt'), 'new file');
    const run = await syncOut({ dir, store, ...at, maxFileBytes: MAX, previous: first.manifest });
    expect(run.uploaded.sort()).toEqual(['created.txt', 'edit.txt']);
    expect(run.deleted).toEqual(['gone.txt']);
    expect(requests.slice(0, 2).sort()).toEqual([
      `PutObject ${at.filesPrefix}created.txt`,
      `PutObject ${at.filesPrefix}edit.txt`,
    ]);
    expect(requests.slice(2)).toEqual([`PutObject ${at.manifestKey}`, 'DeleteObjects']);

    expect((await listWorkspaceFiles(store, at.manifestKey)).map((f) => f.path)).toContain(
      'created.txt',
    );
    expect(await store.head(`${at.filesPrefix}gone.txt`)).toBeNull();
  });

  it('stores none of the bytes behind links, FIFOs or a sparse 1 GB file, and finishes promptly', async () => {
    const outside = join(base, 'outside');
    await writeTree(outside, { 'secret.txt': SECRET });
    await writeTree(dir, { 'ok.txt': 'ok' });
    await symlink('/etc/shadow', join(dir, 'leak'));
    await symlink(join(outside, 'secret.txt'), join(dir, 'leak2'));
    await symlink('../../..', join(dir, 'up'));
    await symlink(outside, join(dir, 'outside-dir'));
    execFileSync('mkfifo', [join(dir, 'fifo')]);
    await writeFile(join(dir, 'sparse'), '');
    await truncate(join(dir, 'sparse'), 1024 ** 3);

    const started = Date.now();
    const result = await syncOut({ dir, store, ...at, maxFileBytes: MAX });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(result.uploaded).toEqual(['ok.txt']);
    expect(result.skipped.map((s) => `${s.path}:${s.reason}`).sort()).toEqual([
      'fifo:fifo',
      'sparse:too_large',
    ]);
    expect(Object.keys(result.manifest.links ?? {}).sort()).toEqual([
      'leak',
      'leak2',
      'outside-dir',
      'up',
    ]);
    const keys = (await store.list('')).map((i) => i.key);
    expect(keys.sort()).toEqual([`${at.filesPrefix}ok.txt`, at.manifestKey].sort());
    for (const key of keys) expect((await store.getBuffer(key))?.includes(SECRET)).toBe(false);
  });

  it('restores a workspace with a multipart-sized file into a new directory', async () => {
    const big = Buffer.alloc(12 * 1024 * 1024 + 5);
    for (let i = 0; i < big.length; i += 1000) big[i] = (i / 1000) % 256;
    await writeTree(dir, { 'big.bin': big, 'small/a.txt': 'a' });
    await syncOut({ dir, store, ...at, maxFileBytes: MAX });
    expect(requests).toContain(`UploadPart ${at.filesPrefix}big.bin`);
    const fresh = join(base, 'fresh');
    const restored = await syncIn({ dir: fresh, store, ...at });
    expect(restored.written.sort()).toEqual(['big.bin', 'small/a.txt']);
    const digest = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
    expect(digest(await readFile(join(fresh, 'big.bin')))).toBe(digest(big));
  });
});
