import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmod,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rename,
  rm,
  stat,
  symlink,
  truncate,
  unlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DirectoryObjectStore } from '../../src/storage/directory-store.js';
import { syncIn, syncOut } from '../../src/sync/file-sync.js';
import { readManifest, RACY_WINDOW_MS } from '../../src/sync/manifest.js';
import { openFileBeneath, openRoot } from '../../src/sync/safe-fs.js';
import { age, RecordingStore, storedObjects, writeTree } from './support.js';

const PREFIX = 'ws/files/';
const MANIFEST = 'ws/manifest.json';
const MAX = 10 * 1024 * 1024;
const SECRET = 'TOP-SECRET-7f3a9c1e-not-for-the-store';

function sha(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

describe('file sync', () => {
  let base: string;
  let dir: string;
  let store: RecordingStore;
  const target = { filesPrefix: PREFIX, manifestKey: MANIFEST };

  beforeEach(async () => {
    base = await mkdtemp(join(tmpdir(), 'workcell-sync-'));
    dir = join(base, 'workspace');
    await mkdir(dir);
    store = new RecordingStore(new DirectoryObjectStore({ root: join(base, 'objects') }));
  });

  afterEach(async () => {
    await rm(base, { recursive: true, force: true });
  });

  const out = (
    options: { previous?: Parameters<typeof syncOut>[0]['previous']; maxFileBytes?: number } = {},
  ) => syncOut({ dir, store, ...target, maxFileBytes: options.maxFileBytes ?? MAX, ...options });

  it('round-trips files, directories, modes, mtimes and symlinks into a fresh directory', async () => {
    await writeTree(dir, {
      'a.txt': 'alpha',
      'src/deep/b.ts': 'export {}',
      'bin/run.sh': '#!/bin/sh\necho hi\n',
      empty: '',
    });
    await chmod(join(dir, 'bin/run.sh'), 0o755);
    await symlink('src/deep/b.ts', join(dir, 'link-to-b'));
    await symlink('/nonexistent/anywhere', join(dir, 'dangling'));
    await age(dir);
    const sent = await out();
    expect(sent.uploaded.sort()).toEqual(['a.txt', 'bin/run.sh', 'empty', 'src/deep/b.ts']);
    expect(sent.skipped).toEqual([]);
    expect(sent.manifest.links).toEqual({
      dangling: { target: '/nonexistent/anywhere' },
      'link-to-b': { target: 'src/deep/b.ts' },
    });
    expect(sent.manifest.files['bin/run.sh']?.mode).toBe(0o755);
    expect(sent.manifest.files['a.txt']).toMatchObject({ size: 5, sha256: sha('alpha') });
    expect(await store.getBuffer(MANIFEST)).not.toBeNull();

    const fresh = join(base, 'fresh');
    const got = await syncIn({ dir: fresh, store, ...target });
    expect(got.written.sort()).toEqual([
      'a.txt',
      'bin/run.sh',
      'dangling',
      'empty',
      'link-to-b',
      'src/deep/b.ts',
    ]);
    expect(await readFile(join(fresh, 'src/deep/b.ts'), 'utf8')).toBe('export {}');
    expect(await readFile(join(fresh, 'empty'), 'utf8')).toBe('');
    expect((await stat(join(fresh, 'bin/run.sh'))).mode & 0o777).toBe(0o755);
    expect((await stat(join(fresh, 'a.txt'))).mode & 0o777).toBe(0o644);
    expect((await stat(join(fresh, 'src/deep'))).mode & 0o777).toBe(0o755);
    expect(await readlink(join(fresh, 'link-to-b'))).toBe('src/deep/b.ts');
    expect(await readlink(join(fresh, 'dangling'))).toBe('/nonexistent/anywhere');
    expect(Math.round((await stat(join(fresh, 'a.txt'))).mtimeMs)).toBe(
      sent.manifest.files['a.txt']?.mtimeMs,
    );

    // What was restored syncs out as "no change", without reading a file.
    store.take();
    const again = await syncOut({
      dir: fresh,
      store,
      ...target,
      maxFileBytes: MAX,
      previous: got.manifest,
    });
    expect(again).toMatchObject({ uploaded: [], deleted: [], changed: false, hashed: 0 });
    expect(store.take()).toEqual([]);
  });

  it('makes no per-file request when nothing changed', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 200; i += 1) files[`d${i % 7}/f${i}.txt`] = `content ${i}`;
    await writeTree(dir, files);
    await age(dir);
    const first = await out();
    expect(first.uploaded).toHaveLength(200);
    store.take();

    const cached = await out({ previous: first.manifest });
    expect(cached).toMatchObject({ uploaded: [], deleted: [], changed: false, hashed: 0 });
    expect(store.take()).toEqual([]);

    const uncached = await out();
    expect(uncached).toMatchObject({ uploaded: [], deleted: [], changed: false, hashed: 0 });
    expect(store.take()).toEqual([`getBuffer ${MANIFEST}`]);
  });

  it('sends exactly the edited and created files, one batched delete, and the manifest last', async () => {
    await writeTree(dir, {
      'keep.txt': 'keep',
      'edit.txt': 'before',
      'gone.txt': 'bye',
      'sub/gone2.txt': 'bye2',
    });
    await age(dir);
    const first = await out();
    store.take();

    await writeFile(join(dir, 'edit.txt'), 'after, longer');
    await unlink(join(dir, 'gone.txt'));
    await rm(join(dir, 'sub'), { recursive: true });
    await writeTree(dir, { 'new/created.txt': 'hello' });
    const second = await out({ previous: first.manifest });

    expect(second.uploaded.sort()).toEqual(['edit.txt', 'new/created.txt']);
    expect(second.deleted.sort()).toEqual(['gone.txt', 'sub/gone2.txt']);
    const log = store.take();
    expect(log.slice(0, 2).sort()).toEqual([
      `put ${PREFIX}edit.txt`,
      `put ${PREFIX}new/created.txt`,
    ]);
    expect(log.slice(2)).toEqual([
      `put ${MANIFEST}`,
      `deleteMany ${PREFIX}gone.txt,${PREFIX}sub/gone2.txt`,
    ]);
    expect((await store.getBuffer(`${PREFIX}edit.txt`))?.toString()).toBe('after, longer');
    expect(await store.head(`${PREFIX}gone.txt`)).toBeNull();
    expect(Object.keys((await readManifest(store, MANIFEST)).files).sort()).toEqual([
      'edit.txt',
      'keep.txt',
      'new/created.txt',
    ]);
  });

  it('finds a same-size edit that kept its mtime when the mtime was too close to the last sync', async () => {
    await writeTree(dir, { 'f.txt': 'aaaa' });
    const first = await out(); // f.txt was written just now: inside the racy window
    const mtime = (await stat(join(dir, 'f.txt'))).mtime;
    await writeFile(join(dir, 'f.txt'), 'bbbb');
    await utimes(join(dir, 'f.txt'), mtime, mtime);
    const second = await out({ previous: first.manifest });
    expect(second.hashed).toBe(1);
    expect(second.uploaded).toEqual(['f.txt']);
    expect((await store.getBuffer(`${PREFIX}f.txt`))?.toString()).toBe('bbbb');
  });

  it('trusts size and mtime only for files older than the racy window', async () => {
    await writeTree(dir, { 'old.txt': 'old', 'new.txt': 'new' });
    await age(dir, RACY_WINDOW_MS + 5_000);
    const t = Date.now();
    await utimes(join(dir, 'new.txt'), new Date(t - 500), new Date(t - 500));
    const first = await out();
    const second = await out({ previous: first.manifest });
    // Only the recent one is read again; neither is sent.
    expect(second).toMatchObject({ hashed: 1, uploaded: [], changed: false });
  });

  it('re-hashes a touched file without sending it, and records the new mtime', async () => {
    await writeTree(dir, { 'f.txt': 'same bytes' });
    await age(dir);
    const first = await out();
    store.take();
    const later = new Date(Date.now() - 60_000);
    await utimes(join(dir, 'f.txt'), later, later);
    const second = await out({ previous: first.manifest });
    expect(second).toMatchObject({ hashed: 1, uploaded: [], deleted: [], changed: true });
    expect(store.take()).toEqual([`put ${MANIFEST}`]);
    expect(second.manifest.files['f.txt']?.mtimeMs).toBe(Math.round(later.getTime()));
  });

  it('never stores the bytes behind symlinks, FIFOs, sockets or oversized files, and says why', async () => {
    const outside = join(base, 'outside');
    await writeTree(outside, { 'secret.txt': SECRET, 'nested/secret2.txt': SECRET });
    await writeTree(dir, { 'ok.txt': 'fine' });
    await symlink('/etc/shadow', join(dir, 'leak'));
    await symlink(join(outside, 'secret.txt'), join(dir, 'leak2'));
    await symlink('../../..', join(dir, 'up'));
    await symlink(outside, join(dir, 'linked-dir'));
    execFileSync('mkfifo', [join(dir, 'pipe')]);
    await writeFile(join(dir, 'sparse.img'), '');
    await truncate(join(dir, 'sparse.img'), 1024 * 1024 * 1024);
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(join(dir, 'agent.sock'), resolve));
    // Names sync refuses.
    await writeFile(join(dir, 'bad\nname'), SECRET);
    await writeFile(join(dir, 'cafe\u0301'), SECRET);
    await writeFile(join(dir, '.workcell-tmp-x'), SECRET);
    await writeFile(
      Buffer.concat([Buffer.from(`${dir}/`), Buffer.from([0x66, 0xff, 0x66])]),
      SECRET,
    );
    try {
      const started = Date.now();
      const result = await out();
      expect(Date.now() - started).toBeLessThan(5_000);

      expect(result.uploaded).toEqual(['ok.txt']);
      const reasons = Object.fromEntries(result.skipped.map((s) => [s.path, s.reason]));
      expect(reasons).toMatchObject({
        pipe: 'fifo',
        'agent.sock': 'socket',
        'sparse.img': 'too_large',
        'bad\nname': 'invalid_path',
        'cafe\u0301': 'invalid_path',
        '.workcell-tmp-x': 'invalid_path',
        'f\ufffdf': 'invalid_path',
      });
      expect(result.skipped).toHaveLength(7);
      expect(result.manifest.links).toEqual({
        leak: { target: '/etc/shadow' },
        leak2: { target: join(outside, 'secret.txt') },
        up: { target: '../../..' },
        'linked-dir': { target: outside },
      });
      const objects = await storedObjects(store, '');
      expect([...objects.keys()].sort()).toEqual([`${PREFIX}ok.txt`, MANIFEST].sort());
      for (const bytes of objects.values()) expect(bytes.includes(SECRET)).toBe(false);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('drops a file from the store once it grows past the limit', async () => {
    await writeTree(dir, { 'grows.bin': 'small' });
    const first = await out();
    await writeFile(join(dir, 'grows.bin'), Buffer.alloc(2048, 1));
    const second = await out({ previous: first.manifest, maxFileBytes: 1024 });
    expect(second.skipped).toEqual([
      { path: 'grows.bin', reason: 'too_large', detail: '2048 bytes' },
    ]);
    expect(second.deleted).toEqual(['grows.bin']);
    expect(await store.head(`${PREFIX}grows.bin`)).toBeNull();
  });

  it('opens nothing through a name swapped for a symlink, FIFO or linked directory after the walk', async () => {
    const outside = join(base, 'outside');
    await writeTree(outside, { 'secret.txt': SECRET });
    await writeTree(dir, { 'f.txt': 'file', 'd/inner.txt': 'inner', 'p.txt': 'pipe soon' });
    const root = await openRoot(dir);
    try {
      const before = await openFileBeneath(root, 'f.txt');
      expect(before.ok).toBe(true);
      if (before.ok) await before.fh.close();

      await unlink(join(dir, 'f.txt'));
      await symlink(join(outside, 'secret.txt'), join(dir, 'f.txt'));
      expect(await openFileBeneath(root, 'f.txt')).toEqual({ ok: false, reason: 'changed' });

      // The parent directory replaced by a link to a directory holding a file of the same name.
      await rename(join(dir, 'd'), join(base, 'd-moved'));
      await writeTree(outside, { 'inner.txt': SECRET });
      await symlink(outside, join(dir, 'd'));
      expect(await openFileBeneath(root, 'd/inner.txt')).toEqual({ ok: false, reason: 'changed' });

      await unlink(join(dir, 'p.txt'));
      execFileSync('mkfifo', [join(dir, 'p.txt')]);
      expect(await openFileBeneath(root, 'p.txt')).toEqual({ ok: false, reason: 'changed' });

      expect(await openFileBeneath(root, 'missing.txt')).toEqual({ ok: false, reason: 'vanished' });
    } finally {
      await root.close();
    }
  });

  it('stores no outside bytes while a file flips between a file and a symlink during syncs', async () => {
    const outside = join(base, 'outside');
    await writeTree(outside, { 'secret.txt': SECRET });
    const files: Record<string, string> = {};
    for (let i = 0; i < 50; i += 1) files[`f${i}.txt`] = `file ${i}`;
    await writeTree(dir, { ...files, 'victim.txt': 'harmless' });
    let flipping = true;
    const flipper = (async () => {
      let asLink = false;
      while (flipping) {
        const tmp = join(dir, `victim.tmp`);
        await rm(tmp, { force: true });
        if (asLink) await symlink(join(outside, 'secret.txt'), tmp);
        else await writeFile(tmp, 'harmless');
        await rename(tmp, join(dir, 'victim.txt'));
        asLink = !asLink;
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    try {
      let previous;
      for (let i = 0; i < 25; i += 1) {
        for (let j = 0; j < 50; j += 7)
          await writeFile(join(dir, `f${j}.txt`), `file ${j} round ${i}`);
        const result = await out(previous ? { previous } : {});
        previous = result.manifest;
      }
    } finally {
      flipping = false;
      await flipper;
    }
    for (const bytes of (await storedObjects(store, '')).values())
      expect(bytes.includes(SECRET)).toBe(false);
  });

  it('removes what the manifest lacks and never writes through a symlink on the way in', async () => {
    await writeTree(dir, { 'sub/file.txt': 'from store', 'top.txt': 'top' });
    await age(dir);
    await out();

    const local = join(base, 'local');
    const outside = join(base, 'outside');
    await writeTree(outside, { 'file.txt': 'outside, untouched', 'target.txt': 'outside target' });
    await mkdir(local);
    // Traps: a symlinked directory where a real one must be, a symlinked file, leftovers.
    await symlink(outside, join(local, 'sub'));
    await symlink(join(outside, 'target.txt'), join(local, 'top.txt'));
    await writeTree(local, {
      'stale.txt': 'stale',
      'stale-dir/x/y.txt': 'y',
      '.workcell-tmp-old': 'junk',
    });
    execFileSync('mkfifo', [join(local, 'stale-pipe')]);

    const result = await syncIn({ dir: local, store, ...target });
    expect(result.deleted.sort()).toEqual([
      '.workcell-tmp-old',
      'stale-dir',
      'stale-pipe',
      'stale.txt',
      'sub',
      'top.txt',
    ]);
    expect(result.written.sort()).toEqual(['sub/file.txt', 'top.txt']);
    expect((await lstat(join(local, 'sub'))).isDirectory()).toBe(true);
    expect((await lstat(join(local, 'top.txt'))).isFile()).toBe(true);
    expect(await readFile(join(local, 'sub/file.txt'), 'utf8')).toBe('from store');
    expect(await readFile(join(outside, 'file.txt'), 'utf8')).toBe('outside, untouched');
    expect(await readFile(join(outside, 'target.txt'), 'utf8')).toBe('outside target');
    expect((await readdir(local)).sort()).toEqual(['sub', 'top.txt']);
  });

  it('keeps what changed in the directory since its last sync when asked (an open terminal)', async () => {
    await writeTree(dir, {
      'same.txt': 's',
      'edited.txt': 'old',
      'gone.txt': 'g',
      'sub/x.txt': 'x',
    });
    await age(dir);
    await out();
    const local = join(base, 'local');
    const first = await syncIn({ dir: local, store, ...target });
    // Changes in the store since: a new file, a deleted one, an edited one.
    await writeFile(join(dir, 'from-store.txt'), 'new in store');
    await unlink(join(dir, 'gone.txt'));
    await writeFile(join(dir, 'sub/x.txt'), 'x from store');
    await age(dir);
    await out();
    // Changes in the directory (a terminal) since its last sync.
    await writeTree(local, { 'typed.txt': 'typed', 'newdir/deep.txt': 'deep' });
    await writeFile(join(local, 'edited.txt'), 'edited here');

    const kept = await syncIn({
      dir: local,
      store,
      ...target,
      known: first.manifest,
      keepLocalChanges: true,
    });
    expect(kept.deleted).toEqual(['gone.txt']);
    expect(kept.written.sort()).toEqual(['from-store.txt', 'sub/x.txt']);
    expect(await readFile(join(local, 'typed.txt'), 'utf8')).toBe('typed');
    expect(await readFile(join(local, 'newdir/deep.txt'), 'utf8')).toBe('deep');
    expect(await readFile(join(local, 'edited.txt'), 'utf8')).toBe('edited here');
    expect(await readFile(join(local, 'sub/x.txt'), 'utf8')).toBe('x from store');

    // Without the option the directory is made to match the store exactly.
    const plain = await syncIn({ dir: local, store, ...target, known: kept.manifest });
    expect(plain.deleted.sort()).toEqual(['newdir', 'typed.txt']);
    expect(await readFile(join(local, 'edited.txt'), 'utf8')).toBe('old');
  });

  it('rewrites only the files whose bytes differ', async () => {
    await writeTree(dir, { 'a.txt': 'a', 'b.txt': 'b', 'c.txt': 'c' });
    await age(dir);
    const sent = await out();
    const local = join(base, 'local');
    const first = await syncIn({ dir: local, store, ...target });
    expect(first.written).toHaveLength(3);

    const trusted = await syncIn({ dir: local, store, ...target, known: first.manifest });
    expect(trusted).toMatchObject({ written: [], deleted: [], hashed: 0 });

    await writeFile(join(local, 'b.txt'), 'B'); // same size, new mtime: read, found different
    await writeFile(join(local, 'c.txt'), 'c'); // same bytes, new mtime: read, kept
    const fixed = await syncIn({ dir: local, store, ...target, manifest: sent.manifest });
    expect(fixed.written).toEqual(['b.txt']);
    expect(fixed.hashed).toBe(2);
    expect(await readFile(join(local, 'b.txt'), 'utf8')).toBe('b');
    // c.txt got the manifest's mtime back, so it is trusted from now on.
    expect(Math.round((await stat(join(local, 'c.txt'))).mtimeMs)).toBe(
      sent.manifest.files['c.txt']?.mtimeMs,
    );
  });

  it('refuses an object that does not match the manifest and keeps the local file', async () => {
    await writeTree(dir, { 'f.txt': 'genuine' });
    await out();
    const local = join(base, 'local');
    await writeTree(local, { 'f.txt': 'local copy' });
    await store.put(`${PREFIX}f.txt`, 'tampered');
    await expect(syncIn({ dir: local, store, ...target })).rejects.toMatchObject({
      code: 'sync_failed',
    });
    expect(await readFile(join(local, 'f.txt'), 'utf8')).toBe('local copy');
    expect((await readdir(local)).sort()).toEqual(['f.txt']);
  });

  it('leaves the stored manifest as it was when a sync out is interrupted', async () => {
    await writeTree(dir, { 'a.txt': 'a1', 'b.txt': 'b1' });
    await age(dir);
    const first = await out();
    await writeTree(dir, { 'a.txt': 'a2, changed', 'b.txt': 'b2, changed', 'c.txt': 'c2' });
    let puts = 0;
    store.beforeOp = (op) => {
      if (op === 'put' && (puts += 1) === 2) throw new Error('connection reset');
    };
    await expect(out({ previous: first.manifest })).rejects.toMatchObject({ code: 'sync_failed' });
    store.beforeOp = undefined;
    expect(await readManifest(store, MANIFEST)).toEqual(first.manifest);

    const retried = await out();
    expect(retried.uploaded.sort()).toEqual(['a.txt', 'b.txt', 'c.txt']);
    const local = join(base, 'local');
    await syncIn({ dir: local, store, ...target });
    expect(await readFile(join(local, 'b.txt'), 'utf8')).toBe('b2, changed');
  });

  it('gives synced-in files to the container user when the host runs as root', async () => {
    await writeTree(dir, { 'd/f.txt': 'x' });
    await symlink('d/f.txt', join(dir, 'l'));
    await out();
    const local = join(base, 'local');
    await syncIn({ dir: local, store, ...target });
    const expected = process.getuid?.() === 0 ? 1000 : process.getuid?.();
    for (const path of ['d', 'd/f.txt']) expect((await stat(join(local, path))).uid).toBe(expected);
    expect((await lstat(join(local, 'l'))).uid).toBe(expected);

    const mine = join(base, 'mine');
    await syncIn({ dir: mine, store, ...target, owner: null });
    expect((await stat(join(mine, 'd/f.txt'))).uid).toBe(process.getuid?.());
  });

  it('syncs a session directory under its own prefix without touching the files prefix', async () => {
    const sessions = join(base, 'claude');
    await writeTree(dir, { 'a.txt': 'workspace file' });
    await writeTree(sessions, {
      'projects/-workspace/s1.jsonl': '{"type":"user"}\n',
      '.claude.json': '{}',
    });
    await out();
    const s = await syncOut({
      dir: sessions,
      store,
      filesPrefix: 'ws/sessions/',
      manifestKey: 'ws/sessions-manifest.json',
      maxFileBytes: MAX,
    });
    expect(s.uploaded.sort()).toEqual(['.claude.json', 'projects/-workspace/s1.jsonl']);
    expect((await store.list('ws/files/')).map((i) => i.key)).toEqual(['ws/files/a.txt']);
    const restored = join(base, 'claude2');
    await syncIn({
      dir: restored,
      store,
      filesPrefix: 'ws/sessions/',
      manifestKey: 'ws/sessions-manifest.json',
    });
    expect(await readFile(join(restored, 'projects/-workspace/s1.jsonl'), 'utf8')).toBe(
      '{"type":"user"}\n',
    );
  });

  it('replaces a file by a directory of the same name and back', async () => {
    await writeTree(dir, { x: 'file x' });
    const first = await out();
    await unlink(join(dir, 'x'));
    await writeTree(dir, { 'x/y': 'now a dir' });
    const second = await out({ previous: first.manifest });
    expect(second).toMatchObject({ uploaded: ['x/y'], deleted: ['x'] });
    const local = join(base, 'local');
    await writeTree(local, { x: 'old file x' });
    await syncIn({ dir: local, store, ...target });
    expect(await readFile(join(local, 'x/y'), 'utf8')).toBe('now a dir');
  });

  it('streams files larger than one part and checks them on the way back', async () => {
    const big = Buffer.alloc(9 * 1024 * 1024 + 17);
    for (let i = 0; i < big.length; i += 4096) big[i] = i % 251;
    await writeFile(join(dir, 'big.bin'), big);
    const sent = await out({ maxFileBytes: 20 * 1024 * 1024 });
    expect(sent.manifest.files['big.bin']).toMatchObject({ size: big.length, sha256: sha(big) });
    const local = join(base, 'local');
    await syncIn({ dir: local, store, ...target });
    expect(sha(await readFile(join(local, 'big.bin')))).toBe(sha(big));
  });
});
