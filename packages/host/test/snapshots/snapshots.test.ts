import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Catalog } from '../../src/catalog/catalog.js';
import { BlobGc } from '../../src/snapshots/blob-gc.js';
import { withBlobHold } from '../../src/snapshots/blob-holds.js';
import { Snapshots } from '../../src/snapshots/snapshots.js';
import { DirectoryObjectStore } from '../../src/storage/directory-store.js';
import * as layout from '../../src/storage/layout.js';
import { tenantBlobs } from '../../src/sync/content.js';
import { syncIn, syncOut } from '../../src/sync/file-sync.js';
import { readManifest } from '../../src/sync/manifest.js';
import { getWorkspaceFile, putWorkspaceFile } from '../../src/sync/workspace-files.js';
import { ManualClock } from '../../src/time/clock.js';
import { age, writeTree } from '../sync/support.js';

const TENANT = 't1';
const WID = 'ws_snapshotTest0001';
const logger = pino({ level: 'silent' });
const HOUR = 3_600_000;

describe('content-addressed workspace files and snapshots', () => {
  let base: string;
  let store: DirectoryObjectStore;
  let clock: ManualClock;
  let snapshots: Snapshots;
  const tree = (dir: string) => ({
    dir,
    store,
    filesPrefix: layout.workspaceFilesPrefix(TENANT, WID),
    manifestKey: layout.workspaceManifestKey(TENANT, WID),
    blobs: tenantBlobs(TENANT),
    maxFileBytes: 1 << 20,
  });
  const blobCount = async () => (await store.list(layout.blobsPrefix(TENANT))).length;
  const blobBytes = async () =>
    (await store.list(layout.blobsPrefix(TENANT))).reduce((sum, o) => sum + o.size, 0);

  beforeEach(async () => {
    base = await mkdtemp(join(tmpdir(), 'workcell-snapshots-'));
    store = new DirectoryObjectStore({ root: join(base, 'objects') });
    clock = new ManualClock(Date.now());
    snapshots = new Snapshots(store, {
      keep: 3,
      clock,
      logger,
      withWorkspaceLock: (_wid, work) => work(),
    });
    // The index entry makes the workspace visible to the blob collector.
    await store.put(layout.workspaceIndexKey(TENANT, WID), '{}');
  });

  afterEach(async () => {
    await rm(base, { recursive: true, force: true });
  });

  const gc = () => new BlobGc(store, { graceMs: HOUR, clock, logger });
  /** Stored objects as if written three hours ago. */
  const ageObjects = () => age(join(base, 'objects'), 3 * HOUR);

  it('stores a file unchanged between snapshots once, and restores each snapshot exactly', async () => {
    const dir = join(base, 'slot');
    const files: Record<string, string> = {};
    for (let i = 0; i < 50; i += 1) files[`src/f${i}.txt`] = `file ${i}\n`.repeat(200);
    await writeTree(dir, files);
    const first = await syncOut(tree(dir));
    expect(first.manifest.version).toBe(2);
    const one = await snapshots.record(TENANT, WID, first.manifest, 'run_aaaaaaaaaaaaaaaa');
    const before = await blobBytes();

    await age(dir);
    await writeFile(join(dir, 'src/f7.txt'), 'changed\n');
    const second = await syncOut(tree(dir));
    expect(second.uploaded).toEqual(['src/f7.txt']);
    await snapshots.record(TENANT, WID, second.manifest, 'run_bbbbbbbbbbbbbbbb');
    // One new blob of 8 bytes: the other 49 files are shared by both snapshots.
    expect(await blobCount()).toBe(51);
    expect((await blobBytes()) - before).toBe(8);
    // No path-addressed copy of any file.
    expect(await store.list(layout.workspaceFilesPrefix(TENANT, WID))).toEqual([]);

    const restored = join(base, 'restored');
    const old = await snapshots.get(TENANT, WID, one.id);
    await syncIn({ ...tree(restored), manifest: old.manifest, owner: null });
    expect(await readFile(join(restored, 'src/f7.txt'), 'utf8')).toBe(files['src/f7.txt']);
    expect(await readFile(join(restored, 'src/f8.txt'), 'utf8')).toBe(files['src/f8.txt']);
  });

  it('reads a workspace stored by path and moves it to blobs on its first write', async () => {
    const location = {
      store,
      filesPrefix: layout.workspaceFilesPrefix(TENANT, WID),
      manifestKey: layout.workspaceManifestKey(TENANT, WID),
    };
    // A version 1 workspace as an earlier host stored it: objects by path.
    const dir = join(base, 'old');
    await writeTree(dir, { 'a.txt': 'alpha', 'b/c.txt': 'charlie' });
    const old = await syncOut({ ...location, dir, maxFileBytes: 1 << 20 });
    expect(old.manifest.version).toBe(1);
    const blobs = tenantBlobs(TENANT);
    const got = await getWorkspaceFile({ ...location, blobs, path: 'b/c.txt' });
    expect(got?.sha256).toBe(old.manifest.files['b/c.txt']?.sha256);

    await putWorkspaceFile({
      ...location,
      blobs,
      path: 'd.txt',
      body: Buffer.from('delta'),
      maxFileBytes: 100,
    });
    const moved = await readManifest(store, location.manifestKey);
    expect(moved.version).toBe(2);
    expect(Object.keys(moved.files).sort()).toEqual(['a.txt', 'b/c.txt', 'd.txt']);
    expect(await store.list(location.filesPrefix)).toEqual([]);
    const restored = join(base, 'restored');
    await syncIn({ ...location, blobs, dir: restored, owner: null });
    expect(await readFile(join(restored, 'b/c.txt'), 'utf8')).toBe('charlie');
    expect(await readFile(join(restored, 'd.txt'), 'utf8')).toBe('delta');
  });

  it('takes a snapshot on request, lists newest first a page at a time, keeps the newest `keep`', async () => {
    const dir = join(base, 'slot');
    await writeTree(dir, { 'a.txt': 'one' });
    await syncOut(tree(dir));
    const taken = [];
    for (let i = 0; i < 5; i += 1) {
      clock.advance(1000);
      taken.push(await snapshots.take(TENANT, WID));
    }
    expect(taken[0]).toMatchObject({ files: 1, bytes: 3 });
    expect(taken[0]).not.toHaveProperty('runId');
    const first = await snapshots.page(TENANT, WID, { after: null, limit: 2 });
    expect(first.items.map((s) => s.id)).toEqual([taken[4]?.id, taken[3]?.id]);
    const second = await snapshots.page(TENANT, WID, { after: first.nextKey, limit: 2 });
    expect(second.items.map((s) => s.id)).toEqual([taken[2]?.id]);
    expect(second.nextKey).toBeNull();
    await expect(snapshots.get(TENANT, WID, taken[0]!.id)).rejects.toMatchObject({
      code: 'not_found',
    });
    await expect(snapshots.get(TENANT, WID, 'snap_nope')).rejects.toMatchObject({
      code: 'not_found',
    });
  });

  describe('stored records', () => {
    it('stores a record compressed and still reads one stored as plain JSON', async () => {
      const dir = join(base, 'slot');
      await writeTree(dir, { 'a.txt': 'alpha', 'b.txt': 'beta' });
      const out = await syncOut(tree(dir));
      const record = await snapshots.record(TENANT, WID, out.manifest, 'run_one');
      const key = layout.snapshotKey(TENANT, WID, record.id);
      const stored = await store.getBuffer(key);
      // gzip's magic bytes: the record is not stored as readable JSON.
      expect(stored?.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
      await store.put(key, JSON.stringify(record));
      expect(await snapshots.get(TENANT, WID, record.id)).toEqual(record);
    });

    it('answers snapshot_unreadable for a damaged record, and the collector then deletes nothing', async () => {
      const dir = join(base, 'slot');
      await writeTree(dir, { 'a.txt': 'only in the snapshot' });
      const first = await syncOut(tree(dir));
      const record = await snapshots.record(TENANT, WID, first.manifest, null);
      await rm(join(dir, 'a.txt'));
      await syncOut(tree(dir));
      const key = layout.snapshotKey(TENANT, WID, record.id);
      for (const damaged of [
        Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x01]),
        Buffer.from('{"id": 1}'),
        Buffer.from('not json'),
      ]) {
        await store.put(key, damaged);
        await expect(snapshots.get(TENANT, WID, record.id)).rejects.toMatchObject({
          code: 'snapshot_unreadable',
        });
        await expect(snapshots.page(TENANT, WID, { after: null, limit: 10 })).rejects.toMatchObject(
          { code: 'snapshot_unreadable' },
        );
      }
      await ageObjects();
      // The only name of the blob is in the damaged record: the pass fails rather than delete it.
      clock.advance(HOUR + 1);
      await expect(gc().collect(TENANT)).rejects.toMatchObject({ code: 'snapshot_unreadable' });
      clock.advance(2 * HOUR);
      await expect(gc().collect(TENANT)).rejects.toMatchObject({ code: 'snapshot_unreadable' });
      expect(await blobCount()).toBe(1);
    });
  });

  describe('the blob collector', () => {
    it('deletes a blob nothing names only on a pass a grace after the mark that found it', async () => {
      const dir = join(base, 'slot');
      await writeTree(dir, { 'keep.txt': 'kept', 'gone.txt': 'removed later' });
      const first = await syncOut(tree(dir));
      await snapshots.record(TENANT, WID, first.manifest, null);
      await rm(join(dir, 'gone.txt'));
      const second = await syncOut(tree(dir));
      expect(await blobCount()).toBe(2);
      await ageObjects();
      // The snapshot still names gone.txt's blob.
      expect((await gc().collect(TENANT)).candidates).toBe(0);
      // Retention drops the only snapshot naming it.
      for (let i = 0; i < 3; i += 1) {
        // Ids order by creation time: each record is a millisecond newer than the last.
        clock.advance(1);
        await snapshots.record(TENANT, WID, second.manifest, null);
      }
      clock.advance(HOUR + 1);
      const mark = await gc().collect(TENANT);
      expect(mark).toMatchObject({ deleted: 0, candidates: 1 });
      clock.advance(HOUR / 2);
      expect((await gc().collect(TENANT)).deleted).toBe(0);
      clock.advance(HOUR);
      expect((await gc().collect(TENANT)).deleted).toBe(1);
      expect(await blobCount()).toBe(1);
      const restored = join(base, 'restored');
      await syncIn({ ...tree(restored), owner: null });
      expect(await readFile(join(restored, 'keep.txt'), 'utf8')).toBe('kept');
    });

    it('loses nothing a run writes while it runs: a blob stored again after the mark is kept', async () => {
      const dir = join(base, 'slot');
      await writeTree(dir, { 'a.txt': 'version one' });
      await syncOut(tree(dir));
      await age(dir);
      await writeTree(dir, { 'a.txt': 'version two' });
      await syncOut(tree(dir));
      await ageObjects();
      // 'version one' is unnamed now: the first pass marks it.
      expect((await gc().collect(TENANT)).candidates).toBe(1);
      // A run writes 'version one' again: it uploads the blob, then the manifest lands.
      clock.advance(HOUR + 1);
      await age(dir);
      await writeTree(dir, { 'a.txt': 'version one' });
      const during = await syncOut(tree(dir));
      expect(during.uploaded).toEqual(['a.txt']);
      // 'version one' was due, but was stored again after the mark: kept. 'version two' is only
      // a candidate of this pass.
      expect(await gc().collect(TENANT)).toMatchObject({ deleted: 0, candidates: 1 });
      expect(await blobCount()).toBe(2);
      const restored = join(base, 'restored');
      await syncIn({ ...tree(restored), owner: null });
      expect(await readFile(join(restored, 'a.txt'), 'utf8')).toBe('version one');
    });

    it('deletes nothing while a writer holds blobs it did not upload (a fork, a restore)', async () => {
      const dir = join(base, 'slot');
      await writeTree(dir, { 'a.txt': 'one' });
      await syncOut(tree(dir));
      await age(dir);
      await writeTree(dir, { 'a.txt': 'two' });
      await syncOut(tree(dir));
      await ageObjects();
      expect((await gc().collect(TENANT)).candidates).toBe(1);
      clock.advance(HOUR + 1);
      const during = await withBlobHold(store, clock, TENANT, () => gc().collect(TENANT));
      expect(during).toMatchObject({ deleted: 0, postponed: true });
      expect(await blobCount()).toBe(2);
      expect((await gc().collect(TENANT)).deleted).toBe(1);
    });

    it("leaves none of a deleted workspace's objects after its collection, and keeps bytes another workspace names", async () => {
      const catalog = new Catalog(store);
      const doomed = await catalog.createWorkspace(TENANT, 'doomed');
      const other = await catalog.createWorkspace(TENANT, 'other');
      const treeOf = (wid: string, dir: string) => ({
        ...tree(dir),
        filesPrefix: layout.workspaceFilesPrefix(TENANT, wid),
        manifestKey: layout.workspaceManifestKey(TENANT, wid),
      });
      const doomedDir = join(base, 'doomed');
      await writeTree(doomedDir, { 'own.txt': 'only the doomed one', 'shared.txt': 'both' });
      const out = await syncOut(treeOf(doomed.id, doomedDir));
      await snapshots.record(TENANT, doomed.id, out.manifest, 'run_1');
      const otherDir = join(base, 'other');
      await writeTree(otherDir, { 'copy.txt': 'both' });
      await syncOut(treeOf(other.id, otherDir));
      // A streamed upload whose writer died, and one still in progress.
      await store.put(layout.blobStagingKey(TENANT, '00000000-0000-4000-8000-000000000000'), 'x');
      await ageObjects();
      await store.put(layout.blobStagingKey(TENANT, '00000000-0000-4000-8000-000000000001'), 'y');
      const sha = (text: string) => out.manifest.files[text]?.sha256 ?? '';
      const own = layout.blobKey(TENANT, sha('own.txt'));
      const shared = layout.blobKey(TENANT, sha('shared.txt'));

      await catalog.deleteWorkspace(TENANT, doomed.id);
      expect(await store.list(layout.workspaceRoot(TENANT, doomed.id))).toEqual([]);
      const mark = await gc().collectAll();
      expect(mark).toMatchObject({ deleted: 0, staging: 1, candidates: 1 });
      // The upload younger than an hour stays until it is an hour old.
      expect(await store.list(layout.blobStagingPrefix(TENANT))).toHaveLength(1);
      clock.advance(2 * HOUR);
      expect(await gc().collectAll()).toMatchObject({ deleted: 1, staging: 1 });

      const left = (await store.list(layout.tenantRoot(TENANT))).map((o) => o.key);
      expect(left).not.toContain(own);
      expect(left).toContain(shared);
      expect(left.filter((k) => k.includes(doomed.id))).toEqual([]);
      expect(left.filter((k) => k.startsWith(layout.blobStagingPrefix(TENANT)))).toEqual([]);
      const restored = join(base, 'restored');
      await syncIn({ ...treeOf(other.id, restored), owner: null });
      expect(await readFile(join(restored, 'copy.txt'), 'utf8')).toBe('both');
    });

    it('collects every tenant in one pass over all of them', async () => {
      const dir = join(base, 'slot');
      await writeTree(dir, { 'a.txt': 'one' });
      await syncOut(tree(dir));
      for (const tenant of ['t0', 't1-x', 't10', 't2']) {
        await store.put(layout.blobStagingKey(tenant, '00000000-0000-4000-8000-000000000000'), 's');
      }
      await ageObjects();
      expect((await gc().collectAll()).staging).toBe(4);
    });
  });
});
