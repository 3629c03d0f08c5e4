import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import { WorkcellError } from '@workcell/protocol';
import { z } from 'zod';
import { manifestSchema, type Manifest } from '../sync/manifest.js';

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

/** Ids sort newest first: the descending time comes first. */
const TIME_CEILING = 9_999_999_999_999;

/** A snapshot as stored: the workspace's content-addressed manifest at one moment. */
export interface SnapshotRecord {
  id: string;
  workspaceId: string;
  /** The run whose sync out recorded it; null for one taken through the API or by an exec. */
  runId: string | null;
  createdAt: string;
  files: number;
  bytes: number;
  manifest: Manifest;
}

/** What the API shows of a snapshot. */
export interface SnapshotView {
  id: string;
  runId?: string;
  createdAt: string;
  files: number;
  bytes: number;
}

/** `snap_` + the descending creation time (13 digits) + 12 random characters. */
export function newSnapshotId(nowMs: number): string {
  const descending = String(TIME_CEILING - Math.floor(nowMs)).padStart(13, '0');
  const random = randomBytes(9).toString('base64url').replace(/[-_]/g, 'x').slice(0, 12);
  return `snap_${descending}${random}`;
}

export function snapshotView(record: SnapshotRecord): SnapshotView {
  return {
    id: record.id,
    ...(record.runId !== null ? { runId: record.runId } : {}),
    createdAt: record.createdAt,
    files: record.files,
    bytes: record.bytes,
  };
}

/** The record of `manifest` taken now. */
export function snapshotOf(
  workspaceId: string,
  manifest: Manifest,
  runId: string | null,
  nowMs: number,
): SnapshotRecord {
  const entries = Object.values(manifest.files);
  return {
    id: newSnapshotId(nowMs),
    workspaceId,
    runId,
    createdAt: new Date(nowMs).toISOString(),
    files: entries.length,
    bytes: entries.reduce((sum, f) => sum + f.size, 0),
    manifest,
  };
}

const snapshotRecordSchema = z.object({
  id: z.string(),
  workspaceId: z.string(),
  runId: z.string().nullable(),
  createdAt: z.string(),
  files: z.number().int().nonnegative(),
  bytes: z.number().nonnegative(),
  manifest: manifestSchema,
});

/** The first two bytes of every gzip stream. */
const GZIP_MAGIC = Buffer.from([0x1f, 0x8b]);

/**
 * A record as stored: gzip-compressed JSON. A record names every file's sha256 and a run
 * changes few files, so most of a snapshot's cost is this record; compressed, ten snapshots of
 * a 1,000-file workspace take about half a megabyte (bench/snapshots.ts).
 */
export async function encodeSnapshotRecord(record: SnapshotRecord): Promise<Buffer> {
  return gzipAsync(Buffer.from(JSON.stringify(record), 'utf8'));
}

/**
 * The record in `stored` (compressed, or plain JSON as first written), checked against its
 * shape: a record that cannot be read answers `snapshot_unreadable`, never a raw parse error.
 */
export async function decodeSnapshotRecord(stored: Buffer, key: string): Promise<SnapshotRecord> {
  let parsed: unknown;
  try {
    const json = stored.subarray(0, 2).equals(GZIP_MAGIC) ? await gunzipAsync(stored) : stored;
    parsed = JSON.parse(json.toString('utf8'));
  } catch (err) {
    throw new WorkcellError(
      'snapshot_unreadable',
      `snapshot ${key} cannot be read: ${(err as Error).message}`,
    );
  }
  const result = snapshotRecordSchema.safeParse(parsed);
  if (!result.success)
    throw new WorkcellError('snapshot_unreadable', `snapshot ${key} is not a snapshot record`);
  return result.data;
}
