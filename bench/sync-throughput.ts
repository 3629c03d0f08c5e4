/**
 * Sync throughput against a raw transfer loop. For 1,000 files of 4 KB and for one 200 MB file:
 * syncOut into an empty prefix and syncIn into an empty directory, each against a raw loop that
 * moves the same files with the same S3ObjectStore (same S3 client, same concurrency of 16):
 * read file + put, get + write file. The figure is raw time / sync time (goal >= 0.9: sync
 * costs at most ~10% over moving the bytes). s3rver on loopback in a child process; median of 5
 * rounds, raw and sync alternating.
 * Run: npx tsx bench/sync-throughput.ts [case name substring, e.g. '200 MB']
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { syncIn, syncOut } from '../packages/host/src/sync/file-sync.js';
import { mapLimit } from '../packages/host/src/sync/limit.js';
import { median, startS3, timed } from './sync-support.js';

const CONCURRENCY = 16;
const ROUNDS = 5;

interface Case {
  name: string;
  files: { path: string; size: number }[];
}

const cases: Case[] = [
  {
    name: '1000 x 4 KB',
    files: Array.from({ length: 1000 }, (_, i) => ({ path: `d${i % 20}/f${i}.bin`, size: 4096 })),
  },
  { name: '1 x 200 MB', files: [{ path: 'big.bin', size: 200 * 1024 * 1024 }] },
];

async function makeFiles(dir: string, files: Case['files']): Promise<void> {
  for (const [i, file] of files.entries()) {
    const buf = Buffer.allocUnsafe(file.size);
    for (let j = 0; j + 4 <= buf.length; j += 4) buf.writeUInt32LE((j * 2654435761 + i) >>> 0, j);
    await mkdir(dirname(join(dir, file.path)), { recursive: true });
    await writeFile(join(dir, file.path), buf);
  }
}

const s3 = await startS3();
const work = await mkdtemp(join(tmpdir(), 'workcell-bench-sync-'));
const results: Record<string, unknown>[] = [];
try {
  const only = process.argv[2];
  for (const c of cases.filter((k) => only === undefined || k.name.includes(only))) {
    const src = join(work, `src-${c.files.length}`);
    await makeFiles(src, c.files);
    const maxFileBytes = 1024 * 1024 * 1024;
    const times = {
      rawPut: [] as number[],
      syncOut: [] as number[],
      rawGet: [] as number[],
      syncIn: [] as number[],
    };
    for (let round = 0; round < ROUNDS; round += 1) {
      // Raw: each file read and put under its key, then got and written.
      const raw = s3.store(`raw-${c.files.length}-${round}`).store;
      times.rawPut.push(
        (
          await timed(() =>
            mapLimit(c.files, CONCURRENCY, async (f) =>
              f.size > 8 * 1024 * 1024
                ? raw.put(`files/${f.path}`, createReadStream(join(src, f.path)))
                : raw.put(`files/${f.path}`, await readFile(join(src, f.path))),
            ),
          )
        ).ms,
      );
      const rawDst = join(work, `raw-dst-${round}`);
      times.rawGet.push(
        (
          await timed(() =>
            mapLimit(c.files, CONCURRENCY, async (f) => {
              const got = await raw.get(`files/${f.path}`);
              if (got === null) throw new Error(`missing ${f.path}`);
              await mkdir(dirname(join(rawDst, f.path)), { recursive: true });
              await pipeline(got.body, createWriteStream(join(rawDst, f.path)));
            }),
          )
        ).ms,
      );
      await rm(rawDst, { recursive: true, force: true });

      // Sync: the same files through syncOut and syncIn.
      const synced = s3.store(`sync-${c.files.length}-${round}`).store;
      const at = { store: synced, filesPrefix: 'files/', manifestKey: 'manifest.json' };
      const out = await timed(() =>
        syncOut({ dir: src, ...at, maxFileBytes, concurrency: CONCURRENCY }),
      );
      if (out.value.uploaded.length !== c.files.length) throw new Error('sync out missed files');
      times.syncOut.push(out.ms);
      const syncDst = join(work, `sync-dst-${round}`);
      const inn = await timed(() =>
        syncIn({
          dir: syncDst,
          ...at,
          manifest: out.value.manifest,
          concurrency: CONCURRENCY,
          owner: null,
        }),
      );
      if (inn.value.written.length !== c.files.length) throw new Error('sync in missed files');
      times.syncIn.push(inn.ms);
      await rm(syncDst, { recursive: true, force: true });
      await raw.deletePrefix('');
      await synced.deletePrefix('');
    }
    const m = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)])) as Record<
      keyof typeof times,
      number
    >;
    const bytes = c.files.reduce((sum, f) => sum + f.size, 0);
    const result = {
      case: c.name,
      bytes,
      rawPutMs: Math.round(m.rawPut),
      syncOutMs: Math.round(m.syncOut),
      outRatio: Number((m.rawPut / m.syncOut).toFixed(3)),
      rawGetMs: Math.round(m.rawGet),
      syncInMs: Math.round(m.syncIn),
      inRatio: Number((m.rawGet / m.syncIn).toFixed(3)),
      goal: 0.9,
    };
    results.push(result);
    await rm(src, { recursive: true, force: true });
  }
} finally {
  await s3.close();
  await rm(work, { recursive: true, force: true });
}

console.log(
  JSON.stringify(
    { benchmark: 'sync-throughput', concurrency: CONCURRENCY, rounds: ROUNDS, results },
    null,
    2,
  ),
);
for (const r of results) {
  console.log(
    `${String(r.case)}: sync out ${String(r.syncOutMs)} ms vs raw put ${String(r.rawPutMs)} ms (ratio ${String(r.outRatio)}), ` +
      `sync in ${String(r.syncInMs)} ms vs raw get ${String(r.rawGetMs)} ms (ratio ${String(r.inRatio)}); goal >= 0.9`,
  );
}
