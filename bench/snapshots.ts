/**
 * What snapshots cost, against baselines measured in the same run on s3rver (loopback, a child
 * process):
 * - storage: a 1,000-file, 4 MB workspace synced out once, then ten runs that each change one
 *   file, each followed by its snapshot. The figure is the bytes stored beyond the first sync
 *   (blobs, live manifest) once the ten snapshots exist (goal < 1 MB).
 * - sync out of a run that changed one file of 10,000: content-addressed with its snapshot
 *   against the path layout without one (what a workspace stored before snapshots does), median
 *   of 7 rounds each (goal <= 1.2x).
 * Run: npx tsx bench/snapshots.ts
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Snapshots } from '../packages/host/src/snapshots/snapshots.js';
import * as layout from '../packages/host/src/storage/layout.js';
import type { ObjectStore } from '../packages/host/src/storage/object-store.js';
import { systemClock } from '../packages/host/src/time/clock.js';
import { tenantBlobs } from '../packages/host/src/sync/content.js';
import { syncOut } from '../packages/host/src/sync/file-sync.js';
import type { Manifest } from '../packages/host/src/sync/manifest.js';
import { median, startS3, timed } from './sync-support.js';

const TENANT = 'bench';
const MAX_FILE_BYTES = 64 * 1024 * 1024;
const ROUNDS = 7;

function fileBytes(seed: number, size: number): Buffer {
  const buf = Buffer.allocUnsafe(size);
  for (let j = 0; j + 4 <= size; j += 4) buf.writeUInt32LE((j * 2654435761 + seed) >>> 0, j);
  return buf;
}

async function makeTree(dir: string, files: number, size: number): Promise<string[]> {
  const paths: string[] = [];
  for (let i = 0; i < files; i += 1) {
    const path = `pkg${i % 100}/src/file${i}.ts`;
    await mkdir(join(dir, `pkg${i % 100}`, 'src'), { recursive: true });
    await writeFile(join(dir, path), fileBytes(i, size));
    paths.push(path);
  }
  return paths;
}

async function storedBytes(store: ObjectStore): Promise<number> {
  return (await store.list('')).reduce((sum, o) => sum + o.size, 0);
}

function snapshotsOn(store: ObjectStore): Snapshots {
  return new Snapshots(store, {
    keep: 100,
    clock: systemClock,
    logger: pino({ level: 'silent' }),
    withWorkspaceLock: (_wid, work) => work(),
  });
}

const s3 = await startS3();
const work = await mkdtemp(join(tmpdir(), 'workcell-bench-snapshots-'));
try {
  // ---- storage of ten snapshots ----
  {
    const dir = join(work, 'storage');
    const paths = await makeTree(dir, 1000, 4096);
    const { store } = s3.store('storage');
    const at = {
      dir,
      store,
      filesPrefix: layout.workspaceFilesPrefix(TENANT, 'ws'),
      manifestKey: layout.workspaceManifestKey(TENANT, 'ws'),
      blobs: tenantBlobs(TENANT),
      maxFileBytes: MAX_FILE_BYTES,
    };
    const snapshots = snapshotsOn(store);
    let previous: Manifest = (await syncOut(at)).manifest;
    const base = await storedBytes(store);
    for (let run = 0; run < 10; run += 1) {
      await writeFile(join(dir, paths[run * 97] ?? 'x'), fileBytes(100_000 + run, 4096));
      const out = await syncOut({ ...at, previous });
      previous = out.manifest;
      await snapshots.record(TENANT, 'ws', out.manifest, `run_${run}`);
    }
    const extra = (await storedBytes(store)) - base;
    const snapshotObjects = await store.list(layout.snapshotsPrefix(TENANT, 'ws'));
    console.log(
      JSON.stringify({
        case: 'ten snapshots of 1,000 files, 4 MB, one file changed per run',
        workspaceBytes: base,
        extraBytes: extra,
        extraMiB: +(extra / 1024 / 1024).toFixed(3),
        snapshotRecordBytes: snapshotObjects.map((o) => o.size),
        goal: '< 1 MB',
      }),
    );
  }

  // ---- sync out of one changed file of 10,000 ----
  {
    const files = 10_000;
    const dirPath = join(work, 'path-layout');
    const dirBlobs = join(work, 'blob-layout');
    const pathsA = await makeTree(dirPath, files, 300);
    await makeTree(dirBlobs, files, 300);
    const pathStore = s3.store('sync-path').store;
    const blobStore = s3.store('sync-blobs').store;
    const byPath = {
      dir: dirPath,
      store: pathStore,
      filesPrefix: layout.workspaceFilesPrefix(TENANT, 'p'),
      manifestKey: layout.workspaceManifestKey(TENANT, 'p'),
      maxFileBytes: MAX_FILE_BYTES,
    };
    const byBlob = {
      dir: dirBlobs,
      store: blobStore,
      filesPrefix: layout.workspaceFilesPrefix(TENANT, 'b'),
      manifestKey: layout.workspaceManifestKey(TENANT, 'b'),
      blobs: tenantBlobs(TENANT),
      maxFileBytes: MAX_FILE_BYTES,
    };
    const snapshots = snapshotsOn(blobStore);
    let prevPath = (await syncOut(byPath)).manifest;
    let prevBlob = (await syncOut(byBlob)).manifest;
    const times = { pathLayout: [] as number[], blobsAndSnapshot: [] as number[] };
    for (let round = 0; round < ROUNDS; round += 1) {
      const path = pathsA[round * 131] ?? 'x';
      await writeFile(join(dirPath, path), fileBytes(200_000 + round, 300));
      await writeFile(join(dirBlobs, path), fileBytes(200_000 + round, 300));
      const a = await timed(() => syncOut({ ...byPath, previous: prevPath }));
      prevPath = a.value.manifest;
      times.pathLayout.push(a.ms);
      const b = await timed(async () => {
        const out = await syncOut({ ...byBlob, previous: prevBlob });
        await snapshots.record(TENANT, 'b', out.manifest, `run_${round}`);
        return out;
      });
      prevBlob = b.value.manifest;
      times.blobsAndSnapshot.push(b.ms);
      if (a.value.uploaded.length !== 1 || b.value.uploaded.length !== 1)
        throw new Error('each round must upload exactly the one changed file');
    }
    const pathMs = median(times.pathLayout);
    const blobMs = median(times.blobsAndSnapshot);
    console.log(
      JSON.stringify({
        case: 'sync out, one changed file of 10,000',
        pathLayoutMs: +pathMs.toFixed(1),
        blobsAndSnapshotMs: +blobMs.toFixed(1),
        ratio: +(blobMs / pathMs).toFixed(2),
        goal: '<= 1.2x',
      }),
    );
  }
} finally {
  await s3.close();
  await rm(work, { recursive: true, force: true });
}
