/**
 * A no-change sync of 10,000 files: how long it takes and how many object-store requests it
 * sends. Baselines measured in the same run: a bare walk of the tree (readdir + lstat of every
 * entry, the least any change detection must do) and the first, full sync of the same tree.
 * Goal: no per-file request (0 with the manifest cached, 1 manifest read without it).
 * s3rver on loopback. Run: npx tsx bench/sync-nochange.ts
 */
import { lstat, mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { syncIn, syncOut } from '../packages/host/src/sync/file-sync.js';
import { median, startS3, timed } from './sync-support.js';

const FILES = 10_000;
const DIRS = 100;
const ROUNDS = 5;
const MAX_FILE_BYTES = 64 * 1024 * 1024;

async function walk(dir: string): Promise<number> {
  let count = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    await lstat(path);
    count += entry.isDirectory() ? await walk(path) : 1;
  }
  return count;
}

const s3 = await startS3();
const work = await mkdtemp(join(tmpdir(), 'workcell-bench-nochange-'));
try {
  const dir = join(work, 'workspace');
  const old = new Date(Date.now() - 3_600_000);
  for (let d = 0; d < DIRS; d += 1) {
    await mkdir(join(dir, `pkg${d}`, 'src'), { recursive: true });
    for (let f = 0; f < FILES / DIRS; f += 1) {
      const path = join(dir, `pkg${d}`, 'src', `file${f}.ts`);
      await writeFile(path, `export const value${f} = ${d * 1000 + f};\n`.repeat(8));
      await utimes(path, old, old);
    }
  }
  const { store, requests } = s3.store('nochange');
  const at = {
    dir,
    store,
    filesPrefix: 'files/',
    manifestKey: 'manifest.json',
    maxFileBytes: MAX_FILE_BYTES,
  };

  const full = await timed(() => syncOut(at));
  const fullRequests = requests.length;
  if (full.value.uploaded.length !== FILES)
    throw new Error(`uploaded ${full.value.uploaded.length}`);
  const manifest = full.value.manifest;

  const walkMs: number[] = [];
  const cachedMs: number[] = [];
  const uncachedMs: number[] = [];
  const inMs: number[] = [];
  let cachedRequests = 0;
  let uncachedRequests = 0;
  let inRequests = 0;
  let hashed = 0;
  for (let round = 0; round < ROUNDS; round += 1) {
    const walked = await timed(() => walk(dir));
    if (walked.value !== FILES) throw new Error(`walked ${walked.value}`);
    walkMs.push(walked.ms);

    requests.length = 0;
    const cached = await timed(() => syncOut({ ...at, previous: manifest }));
    cachedMs.push(cached.ms);
    cachedRequests = Math.max(cachedRequests, requests.length);
    hashed = Math.max(hashed, cached.value.hashed);
    if (cached.value.changed) throw new Error('a no-change sync changed something');

    requests.length = 0;
    uncachedMs.push((await timed(() => syncOut(at))).ms);
    uncachedRequests = Math.max(uncachedRequests, requests.length);

    requests.length = 0;
    const back = await timed(() => syncIn({ ...at, manifest, known: manifest, owner: null }));
    if (back.value.written.length !== 0) throw new Error('a no-change sync in wrote files');
    inMs.push(back.ms);
    inRequests = Math.max(inRequests, requests.length);
  }

  const m = {
    walk: median(walkMs),
    cached: median(cachedMs),
    uncached: median(uncachedMs),
    syncIn: median(inMs),
  };
  const result = {
    benchmark: 'sync-nochange',
    files: FILES,
    rounds: ROUNDS,
    fullSyncOutMs: Math.round(full.ms),
    fullSyncOutRequests: fullRequests,
    walkMs: Math.round(m.walk),
    noChangeSyncOutMs: Math.round(m.cached),
    noChangeSyncOutRequests: cachedRequests,
    noChangeSyncOutUncachedMs: Math.round(m.uncached),
    noChangeSyncOutUncachedRequests: uncachedRequests,
    noChangeSyncInMs: Math.round(m.syncIn),
    noChangeSyncInRequests: inRequests,
    filesHashed: hashed,
    requestsPerFile: uncachedRequests / FILES,
    noChangeVsWalk: Number((m.cached / m.walk).toFixed(3)),
    noChangeVsFullSync: Number((m.cached / full.ms).toFixed(4)),
  };
  console.log(JSON.stringify(result, null, 2));
  console.log(
    `no-change sync out of ${FILES} files: ${result.noChangeSyncOutMs} ms, ${cachedRequests} requests ` +
      `(${uncachedRequests} without the cached manifest; full sync ${result.fullSyncOutMs} ms, ${fullRequests} requests); ` +
      `${result.noChangeVsWalk}x a bare walk (${result.walkMs} ms), ${result.noChangeVsFullSync}x the full sync; ` +
      `no-change sync in ${result.noChangeSyncInMs} ms, ${inRequests} requests; ${hashed} files hashed`,
  );
} finally {
  await s3.close();
  await rm(work, { recursive: true, force: true });
}
