/**
 * Forking a workspace against moving it through an archive, on a real host in this process
 * (embedded defaults: memory state, a directory object store).
 * - 1,000 files of 4 KB (pseudo-random, 4 MB), one conversation: `POST .../fork` against the
 *   archive round trip a client would do instead (`GET .../archive`, a new workspace, `POST
 *   .../archive` of the bytes), as tar.gz and as plain tar. Median of 5 rounds, alternating.
 *   Goal: fork <= 0.25x the faster round trip.
 * - a small workspace (3 files, one conversation): p50 of 20 forks. Goal <= 100 ms.
 * Run: npx tsx bench/fork.ts
 */
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBenchHost } from './api-support.js';
import { median, timed } from './sync-support.js';

const ROUNDS = 5;
const SMALL_FORKS = 20;

function fileBytes(seed: number, size: number): Buffer {
  const buf = Buffer.allocUnsafe(size);
  for (let j = 0; j + 4 <= size; j += 4) buf.writeUInt32LE((j * 2654435761 + seed) >>> 0, j);
  return buf;
}

/** A tar.gz of `files` files of `size` bytes, made by GNU tar. */
async function makeArchive(work: string, files: number, size: number): Promise<Buffer> {
  const dir = join(work, `tree-${files}`);
  for (let i = 0; i < files; i += 1) {
    await mkdir(join(dir, `pkg${i % 50}`), { recursive: true });
    await writeFile(join(dir, `pkg${i % 50}`, `file${i}.bin`), fileBytes(i, size));
  }
  const out = join(work, `tree-${files}.tar.gz`);
  const tar = spawnSync('tar', ['czf', out, '-C', dir, '.']);
  if (tar.status !== 0) throw new Error(`tar failed: ${tar.stderr.toString()}`);
  return readFile(out);
}

const host = await startBenchHost();
const work = await mkdtemp(join(tmpdir(), 'workcell-bench-fork-'));
const made: string[] = [];
try {
  const newWorkspace = async (): Promise<string> => {
    const ws = await host.json<{ id: string }>('/v1/workspaces', { method: 'POST', body: '{}' });
    made.push(ws.id);
    return ws.id;
  };
  const upload = async (wid: string, body: Buffer, type: string): Promise<void> => {
    const res = await host.api(`/v1/workspaces/${wid}/archive`, {
      method: 'POST',
      headers: { 'content-type': type },
      body: new Uint8Array(body),
    });
    if (!res.ok) throw new Error(`upload answered ${res.status}: ${await res.text()}`);
    await res.arrayBuffer();
  };
  /** A workspace holding the archive's files, a conversation and a snapshot of the files. */
  const source = async (archive: Buffer): Promise<string> => {
    const wid = await newWorkspace();
    await upload(wid, archive, 'application/gzip');
    await host.json(`/v1/workspaces/${wid}/conversations`, { method: 'POST', body: '{}' });
    await host.json(`/v1/workspaces/${wid}/snapshots`, { method: 'POST', body: '{}' });
    return wid;
  };
  const fork = async (wid: string): Promise<void> => {
    const forked = await host.json<{ workspace: { id: string } }>(`/v1/workspaces/${wid}/fork`, {
      method: 'POST',
      body: '{}',
    });
    made.push(forked.workspace.id);
  };
  const roundTrip = async (wid: string, accept: string): Promise<void> => {
    const res = await host.api(`/v1/workspaces/${wid}/archive`, { headers: { accept } });
    if (!res.ok) throw new Error(`download answered ${res.status}`);
    const bytes = Buffer.from(await res.arrayBuffer());
    await upload(await newWorkspace(), bytes, accept);
  };

  const big = await source(await makeArchive(work, 1000, 4096));
  const times = { fork: [] as number[], tarGz: [] as number[], tar: [] as number[] };
  for (let round = 0; round < ROUNDS; round += 1) {
    times.tarGz.push((await timed(() => roundTrip(big, 'application/gzip'))).ms);
    times.tar.push((await timed(() => roundTrip(big, 'application/x-tar'))).ms);
    times.fork.push((await timed(() => fork(big))).ms);
  }
  const forkMs = median(times.fork);
  const tarGzMs = median(times.tarGz);
  const tarMs = median(times.tar);
  console.log(
    JSON.stringify({
      case: 'fork of 1,000 files (4 MB) vs an archive round trip',
      forkMs: +forkMs.toFixed(1),
      roundTripTarGzMs: +tarGzMs.toFixed(1),
      roundTripTarMs: +tarMs.toFixed(1),
      ratio: +(forkMs / Math.min(tarGzMs, tarMs)).toFixed(3),
      goal: '<= 0.25x',
    }),
  );

  const small = await source(await makeArchive(work, 3, 1024));
  const smallTimes: number[] = [];
  for (let i = 0; i < SMALL_FORKS; i += 1) smallTimes.push((await timed(() => fork(small))).ms);
  console.log(
    JSON.stringify({
      case: 'fork of a small workspace (3 files, one conversation)',
      p50Ms: +median(smallTimes).toFixed(1),
      maxMs: +Math.max(...smallTimes).toFixed(1),
      goal: 'p50 <= 100 ms',
    }),
  );
} finally {
  for (const wid of made) await host.api(`/v1/workspaces/${wid}`, { method: 'DELETE' });
  await host.close();
  await rm(work, { recursive: true, force: true });
}
