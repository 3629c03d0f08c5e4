/**
 * Archive download against GNU tar and a raw read of the same files. A workspace of 200 files of 256 KB
 * (50 MB, pseudo-random so it does not compress away) in a DirectoryObjectStore; the baseline
 * reads every file's object from the store one after another and drops the bytes; the archive
 * streams the same files as tar.gz and as zip and drops the bytes. Figures: raw time / archive
 * time (what streaming the archive costs over reading the bytes: mostly deflate), and the
 * largest growth of the heap while the archive streams (flat: the workspace never sits in
 * memory). The second baseline is GNU `tar czf -` (gzip's default level 6) of the same stored
 * objects, its output read by this process as the archive's is: goal tar.gz >= 1.0x of it.
 * Uncompressed `tar` (`Accept: application/x-tar`) is measured too. Median of 3 rounds, all
 * alternating.
 * Run: npx tsx bench/archive-download.ts
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pino } from 'pino';
import { ArchiveService } from '../packages/host/src/archive/archive-service.js';
import { DirectoryObjectStore } from '../packages/host/src/storage/directory-store.js';
import * as layout from '../packages/host/src/storage/layout.js';
import { tenantBlobs } from '../packages/host/src/sync/content.js';
import { putWorkspaceFile } from '../packages/host/src/sync/workspace-files.js';
import { systemClock } from '../packages/host/src/time/clock.js';
import { median, timed } from './sync-support.js';

const FILES = 200;
const SIZE = 256 * 1024;
const ROUNDS = 3;
const TENANT = 'bench';
const WID = 'ws_bench';

async function drain(stream: Readable): Promise<number> {
  let bytes = 0;
  for await (const chunk of stream) bytes += (chunk as Buffer).length;
  return bytes;
}

const work = await mkdtemp(join(tmpdir(), 'workcell-bench-archive-'));
try {
  const store = new DirectoryObjectStore({ root: join(work, 'objects') });
  const location = {
    store,
    filesPrefix: layout.workspaceFilesPrefix(TENANT, WID),
    manifestKey: layout.workspaceManifestKey(TENANT, WID),
    blobs: tenantBlobs(TENANT),
  };
  for (let i = 0; i < FILES; i += 1) {
    const buf = Buffer.allocUnsafe(SIZE);
    for (let j = 0; j + 4 <= SIZE; j += 4) buf.writeUInt32LE((j * 2654435761 + i) >>> 0, j);
    await putWorkspaceFile({
      ...location,
      path: `d${i % 10}/f${i}.bin`,
      body: buf,
      maxFileBytes: SIZE,
    });
  }
  const archives = new ArchiveService(store, {
    limits: {
      maxBytes: 1,
      maxUnpackedBytes: 1,
      maxEntries: 1,
      maxRatio: 1,
      maxFileBytes: SIZE,
      maxConcurrent: 1,
    },
    stagingDir: join(work, 'staging'),
    clock: systemClock,
    logger: pino({ level: 'silent' }),
    withLease: (_wid, fn) => fn(),
  });
  const keys = (await store.list(location.filesPrefix)).map((o) => o.key);

  const times = {
    raw: [] as number[],
    gnuTar: [] as number[],
    'tar.gz': [] as number[],
    tar: [] as number[],
    zip: [] as number[],
  };
  const heapGrowth = { 'tar.gz': 0, tar: 0, zip: 0 };
  const objectsDir = join(work, 'objects');
  const gnuTar = (): Promise<number> =>
    new Promise((resolve, reject) => {
      const child = spawn('tar', ['czf', '-', '-C', objectsDir, '.'], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      drain(child.stdout).then(resolve, reject);
      child.on('error', reject);
    });
  for (let round = 0; round < ROUNDS; round += 1) {
    times.raw.push(
      (
        await timed(async () => {
          for (const key of keys) {
            const got = await store.get(key);
            if (got) await drain(got.body);
          }
        })
      ).ms,
    );
    times.gnuTar.push((await timed(gnuTar)).ms);
    for (const format of ['tar.gz', 'tar', 'zip'] as const) {
      global.gc?.();
      const base = process.memoryUsage().heapUsed;
      let peak = base;
      const sample = setInterval(() => {
        peak = Math.max(peak, process.memoryUsage().heapUsed);
      }, 5);
      times[format].push(
        (await timed(async () => drain(await archives.download(TENANT, WID, '', format)))).ms,
      );
      clearInterval(sample);
      heapGrowth[format] = Math.max(heapGrowth[format], peak - base);
    }
  }
  const raw = median(times.raw);
  const round2 = (n: number): number => Math.round(n * 100) / 100;
  console.log(
    JSON.stringify(
      {
        workspace: `${FILES} x ${SIZE / 1024} KB`,
        rawMs: Math.round(raw),
        gnuTarCzfMs: Math.round(median(times.gnuTar)),
        tarGzMs: Math.round(median(times['tar.gz'])),
        tarMs: Math.round(median(times.tar)),
        zipMs: Math.round(median(times.zip)),
        gnuTarOverTarGz: round2(median(times.gnuTar) / median(times['tar.gz'])),
        rawOverTarGz: round2(raw / median(times['tar.gz'])),
        rawOverTar: round2(raw / median(times.tar)),
        rawOverZip: round2(raw / median(times.zip)),
        maxHeapGrowthMiB: {
          'tar.gz': round2(heapGrowth['tar.gz'] / 1024 / 1024),
          tar: round2(heapGrowth.tar / 1024 / 1024),
          zip: round2(heapGrowth.zip / 1024 / 1024),
        },
      },
      null,
      2,
    ),
  );
} finally {
  await rm(work, { recursive: true, force: true });
}
