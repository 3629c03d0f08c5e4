import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable, Transform } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { WorkcellError } from '@workcell/protocol';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ArchiveService, archiveFolder } from '../../src/archive/archive-service.js';
import { entryTarget } from '../../src/archive/entry-rules.js';
import { DirectoryObjectStore } from '../../src/storage/directory-store.js';
import * as layout from '../../src/storage/layout.js';
import { tenantBlobs } from '../../src/sync/content.js';
import type { ObjectStore } from '../../src/storage/object-store.js';
import { putWorkspaceFile } from '../../src/sync/workspace-files.js';
import { systemClock } from '../../src/time/clock.js';
import { readTar, tarOf } from '../../../../test/support/archives.js';

const MiB = 1024 * 1024;
const TENANT = 'tenant-a';
const WID = 'ws_archive';

/** A store whose reads count the bytes the archive takes out of it, as they are pulled. */
function countingStore(inner: ObjectStore): {
  store: ObjectStore;
  pulled: () => number;
  open: () => number;
  opened: () => number;
} {
  let pulled = 0;
  let open = 0;
  let opened = 0;
  const store = Object.create(inner) as ObjectStore;
  store.get = async (key, range) => {
    const got = await inner.get(key, range);
    if (got === null) return null;
    open += 1;
    opened += 1;
    got.body.once('close', () => (open -= 1));
    const counter = new Transform({
      transform(chunk: Buffer, _e, cb) {
        pulled += chunk.length;
        cb(null, chunk);
      },
    });
    got.body.pipe(counter);
    // What the archive destroys is the counter; the store's own stream goes with it.
    counter.once('close', () => got.body.destroy());
    return { info: got.info, body: counter };
  };
  return { store, pulled: () => pulled, open: () => open, opened: () => opened };
}

describe('ArchiveService', () => {
  let dir: string;
  let objects: DirectoryObjectStore;
  const logger = pino({ level: 'silent' });

  const service = (store: ObjectStore, limits: Partial<Record<string, number>> = {}) =>
    new ArchiveService(store, {
      limits: {
        maxBytes: 64 * MiB,
        maxUnpackedBytes: 256 * MiB,
        maxEntries: 1000,
        maxRatio: 100,
        maxFileBytes: 16 * MiB,
        maxConcurrent: 4,
        ...limits,
      },
      stagingDir: join(dir, 'staging'),
      clock: systemClock,
      logger,
      withLease: (_wid, work) => work(),
    });

  const put = (path: string, body: Buffer | string) =>
    putWorkspaceFile({
      store: objects,
      filesPrefix: layout.workspaceFilesPrefix(TENANT, WID),
      manifestKey: layout.workspaceManifestKey(TENANT, WID),
      blobs: tenantBlobs(TENANT),
      path,
      body: Buffer.from(body),
      maxFileBytes: 64 * MiB,
    });

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'wc-archive-'));
    objects = new DirectoryObjectStore({ root: join(dir, 'objects') });
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it.each(['tar.gz', 'zip'] as const)(
    'streams a large workspace as %s with bounded memory: the store is read only as fast as the client reads',
    async (format) => {
      const files = 24;
      for (let i = 0; i < files; i += 1) await put(`big/${i}.bin`, randomBytes(MiB));
      const { store, pulled } = countingStore(objects);
      const stream = await service(store).download(TENANT, WID, '', format);
      const reader = stream[Symbol.asyncIterator]();
      let received = 0;
      while (received < 2 * MiB) {
        const next = (await reader.next()) as IteratorResult<Buffer>;
        if (next.done) break;
        received += next.value.length;
      }
      // The client stops reading: whatever the archive pulls meanwhile is buffered in memory.
      await new Promise((r) => setTimeout(r, 300));
      const ahead = pulled() - received;
      expect(ahead).toBeLessThan(4 * MiB);
      expect(pulled()).toBeLessThan((files * MiB) / 2);
      for (;;) {
        const next = (await reader.next()) as IteratorResult<Buffer>;
        if (next.done) break;
        received += next.value.length;
      }
      expect(pulled()).toBe(files * MiB);
      expect(received).toBeGreaterThan(files * MiB);
    },
  );

  it.each(['tar.gz', 'zip'] as const)(
    'closes what it reads from the store when the client goes away mid-download (%s)',
    async (format) => {
      for (let i = 0; i < 8; i += 1) await put(`big/${i}.bin`, randomBytes(MiB));
      const { store, open, opened } = countingStore(objects);
      const stream = await service(store).download(TENANT, WID, '', format);
      const reader = stream[Symbol.asyncIterator]();
      let received = 0;
      while (received < MiB) {
        const next = (await reader.next()) as IteratorResult<Buffer>;
        if (next.done) break;
        received += next.value.length;
      }
      stream.destroy();
      await new Promise((r) => setTimeout(r, 300));
      expect(open()).toBe(0);
      expect(opened()).toBeLessThan(8);
    },
  );

  it('downloads uncompressed tar, and tar.gz that stores data that does not compress and deflates what does, both read back exactly', async () => {
    const noise = randomBytes(2 * MiB);
    const text = Buffer.from('const x = 1;\n'.repeat(100_000));
    await put('noise.bin', noise);
    await put('src/app.js', text);
    const read = async (format: 'tar' | 'tar.gz'): Promise<Buffer> => {
      const chunks: Buffer[] = [];
      for await (const chunk of await service(objects).download(TENANT, WID, '', format))
        chunks.push(chunk as Buffer);
      return Buffer.concat(chunks);
    };
    const plain = await read('tar');
    const gz = await read('tar.gz');
    for (const tar of [readTar(plain), readTar(gunzipSync(gz))]) {
      expect(tar.get('noise.bin')?.body.equals(noise)).toBe(true);
      expect(tar.get('src/app.js')?.body.equals(text)).toBe(true);
    }
    // The noise is stored (a little framing on top), the text deflated to a small part of itself.
    expect(gz.length).toBeGreaterThan(noise.length);
    expect(gz.length).toBeLessThan(noise.length + text.length / 10);
    expect(plain.length).toBeGreaterThan(noise.length + text.length);
  });

  it('downloads one folder, names relative to it, and keeps the executable bit', async () => {
    await put('src/app.py', 'print(1)\n');
    await put('src/lib/util.py', 'x = 1\n');
    await put('other.txt', 'no\n');
    const chunks: Buffer[] = [];
    for await (const chunk of await service(objects).download(TENANT, WID, 'src', 'tar.gz'))
      chunks.push(chunk as Buffer);
    const tar = readTar(gunzipSync(Buffer.concat(chunks)));
    expect([...tar.keys()].sort()).toEqual(['app.py', 'lib/util.py']);
    await expect(service(objects).download(TENANT, WID, 'nothing', 'zip')).rejects.toMatchObject({
      code: 'not_found',
    });
  });

  it('stores small files from memory several at once and large ones streamed, every byte exact', async () => {
    const small = Array.from({ length: 60 }, (_, i) => ({
      name: `src/f${i}.txt`,
      body: randomBytes(1000 + i),
    }));
    const large = [
      { name: 'big/exactly-1mib.bin', body: randomBytes(MiB) },
      { name: 'big/over.bin', body: randomBytes(3 * MiB + 17) },
    ];
    const entries = [...small.slice(0, 30), ...large, ...small.slice(30)];
    const result = await service(objects).upload(
      TENANT,
      WID,
      '',
      Readable.from([tarOf(entries)]),
      'application/x-tar',
    );
    expect(result).toMatchObject({ files: entries.length });
    const archive = await service(objects).download(TENANT, WID, '', 'tar');
    const chunks: Buffer[] = [];
    for await (const chunk of archive) chunks.push(chunk as Buffer);
    const back = readTar(Buffer.concat(chunks));
    for (const e of entries) expect(back.get(e.name)?.body.equals(e.body), e.name).toBe(true);
    // Nothing is left in staging: small files never go through it, large ones are moved out.
    expect(await objects.list(layout.blobStagingPrefix(TENANT))).toEqual([]);
  });

  it('records exactly the files stored when the store fails part-way through an upload', async () => {
    const entries = Array.from({ length: 40 }, (_, i) => ({
      name: `f${i}.txt`,
      body: `file ${i}\n`,
    }));
    let puts = 0;
    const failing = Object.create(objects) as ObjectStore;
    failing.put = async (key, body, options) => {
      if (key.startsWith(layout.blobsPrefix(TENANT)) && (puts += 1) > 25)
        throw new WorkcellError('dependency_unavailable', 'the store went away');
      return objects.put(key, body, options);
    };
    const err = await service(failing)
      .upload(TENANT, WID, '', Readable.from([tarOf(entries)]), 'application/x-tar')
      .catch((e: unknown) => e);
    expect((err as WorkcellError).code).toBe('dependency_unavailable');
    const manifest = JSON.parse(
      (await objects.getBuffer(layout.workspaceManifestKey(TENANT, WID)))?.toString() ?? '{}',
    ) as { files: Record<string, { sha256: string }> };
    const named = Object.values(manifest.files);
    expect(named.length).toBe(25);
    // Every file the manifest names has its bytes in the store.
    for (const f of named)
      expect(await objects.head(layout.blobKey(TENANT, f.sha256))).not.toBeNull();
  });

  it('refuses a streamed body past the size limit (no Content-Length) and leaves nothing staged or stored', async () => {
    await put('keep.txt', 'kept\n');
    const before = await objects.list('');
    const body = Readable.from(
      (function* () {
        for (let i = 0; i < 40; i += 1) yield randomBytes(64 * 1024);
      })(),
    );
    const err = await service(objects, { maxBytes: MiB })
      .upload(TENANT, WID, '', body, 'application/x-tar')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkcellError);
    expect((err as WorkcellError).code).toBe('payload_too_large');
    expect(await objects.list('')).toEqual(before);
    expect(readdirSync(join(dir, 'staging'))).toEqual([]);
  });

  it('unpacks at most WORKCELL_ARCHIVE_MAX_UPLOADS archives at once; the next answers host_at_capacity', async () => {
    const archives = service(objects, { maxConcurrent: 1 });
    const slow = new PassThrough();
    const first = archives.upload(TENANT, WID, '', slow, 'application/x-tar');
    const second = await archives
      .upload(TENANT, 'ws_other', '', Readable.from([tarOf([{ name: 'a', body: 'a' }])]), undefined)
      .catch((e: unknown) => e);
    expect(second).toMatchObject({ code: 'host_at_capacity', details: { retryAfterSeconds: 1 } });
    slow.end(tarOf([{ name: 'slow.txt', body: 'slow\n' }]));
    expect(await first).toEqual({ path: '', files: 1, bytes: 5 });
    // The slot is free again.
    expect(
      await archives.upload(
        TENANT,
        WID,
        '',
        Readable.from([tarOf([{ name: 'b', body: 'b' }])]),
        undefined,
      ),
    ).toMatchObject({ files: 1 });
  });

  it('clears what a crashed upload left staged when the host starts', async () => {
    const staging = join(dir, 'staging');
    mkdirSync(staging, { recursive: true });
    writeFileSync(join(staging, 'upload-left-by-a-crash'), randomBytes(1024));
    await service(objects).clearStaging();
    expect(existsSync(staging)).toBe(false);
  });

  it('removes its staged copy after an upload', async () => {
    const tar = tarOf([{ name: 'a.txt', body: 'a\n' }]);
    const result = await service(objects).upload(
      TENANT,
      WID,
      'into',
      Readable.from([tar]),
      undefined,
    );
    expect(result).toEqual({ path: 'into', files: 1, bytes: 2 });
    expect(readdirSync(join(dir, 'staging'))).toEqual([]);
  });
});

describe('archive entry paths', () => {
  it.each([
    ['./a.txt', 'file', '', 'a.txt'],
    ['././a/b.txt', 'file', '', 'a/b.txt'],
    ['a/', 'directory', '', 'a'],
    ['./', 'directory', '', null],
    ['x.txt', 'file', 'into/here', 'into/here/x.txt'],
  ] as const)('%s (%s) under %j unpacks to %j', (name, kind, folder, target) => {
    expect(entryTarget(name, kind, folder)).toBe(target);
  });

  it.each([
    ['../a', 'file'],
    ['a/../../b', 'file'],
    ['/etc/passwd', 'file'],
    ['a\\..\\b', 'file'],
    ['C:/x', 'file'],
    ['c:x', 'file'],
    ['a/', 'file'],
    ['.', 'file'],
    ['a//b', 'file'],
    ['.workcell/x', 'file'],
    ['a\u0000b', 'file'],
  ] as const)('refuses %j as archive_unsafe_path', (name, kind) => {
    expect(() => entryTarget(name, kind, '')).toThrow(
      expect.objectContaining({ code: 'archive_unsafe_path' }),
    );
  });

  it('refuses ?path= values the files API refuses, with invalid_path', () => {
    expect(archiveFolder(undefined)).toBe('');
    expect(archiveFolder('a/b')).toBe('a/b');
    for (const bad of ['../x', '/x', 'a/../b', 'a\\b', 'a/']) {
      expect(() => archiveFolder(bad)).toThrow(expect.objectContaining({ code: 'invalid_path' }));
    }
  });
});
