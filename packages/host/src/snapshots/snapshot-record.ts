import { randomBytes } from 'node:crypto';
import type { Manifest } from '../sync/manifest.js';

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
