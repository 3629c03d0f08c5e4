import { WorkcellError } from '@workcell/protocol';
import { z } from 'zod';
import { compareKeys } from '../storage/object-key.js';
import type { ObjectStore } from '../storage/object-store.js';

/** Files are 0644 unless they were executable, then 0755; only that bit is kept. */
export const FILE_MODE = 0o644;
export const EXEC_MODE = 0o755;

const fileEntrySchema = z.object({
  size: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  /** Whole milliseconds since the epoch. */
  mtimeMs: z.number().int(),
  /** 0o755 for an executable file; absent means 0o644. */
  mode: z.number().int().optional(),
});

const linkEntrySchema = z.object({ target: z.string().min(1).max(4096) });

export const manifestSchema = z.object({
  /** 1: files' bytes under the tree's prefix by path; 2: under the tenant's blobs by sha256. */
  version: z.union([z.literal(1), z.literal(2)]),
  /**
   * When the sync that wrote this manifest started to look at the directory. A file whose size
   * and mtime still match its entry is trusted without hashing only when that mtime is safely
   * older than this (a write in the same clock tick as the sync's read could keep the mtime).
   */
  syncedAtMs: z.number().int().optional(),
  files: z.record(z.string(), fileEntrySchema),
  links: z.record(z.string(), linkEntrySchema).optional(),
});

export type ManifestFile = z.infer<typeof fileEntrySchema>;
export type ManifestLink = z.infer<typeof linkEntrySchema>;
/** What a files (or sessions) prefix holds: path -> size, sha256, mtime, and symlinks by target. */
export type Manifest = z.infer<typeof manifestSchema>;

export function emptyManifest(version: 1 | 2 = 1): Manifest {
  return { version, files: {}, links: {} };
}

/** The manifest at `key`; an empty one when there is none yet. Throws `sync_failed` when unreadable. */
export async function readManifest(store: ObjectStore, key: string): Promise<Manifest> {
  const buf = await store.getBuffer(key);
  if (buf === null) return emptyManifest();
  let parsed: unknown;
  try {
    parsed = JSON.parse(buf.toString('utf8'));
  } catch (err) {
    throw new WorkcellError(
      'sync_failed',
      `manifest ${key} is not JSON: ${(err as Error).message}`,
    );
  }
  const result = manifestSchema.safeParse(parsed);
  if (!result.success) {
    throw new WorkcellError('sync_failed', `manifest ${key} is not valid: ${result.error.message}`);
  }
  return result.data;
}

function sortedRecord<T>(record: Record<string, T>): Record<string, T> {
  const out: Record<string, T> = {};
  for (const key of Object.keys(record).sort(compareKeys)) out[key] = record[key] as T;
  return out;
}

/** The manifest as stored: paths in key order, so equal manifests serialise to equal bytes. */
export function serialiseManifest(manifest: Manifest): string {
  return JSON.stringify({
    version: manifest.version,
    ...(manifest.syncedAtMs !== undefined ? { syncedAtMs: manifest.syncedAtMs } : {}),
    files: sortedRecord(manifest.files),
    links: sortedRecord(manifest.links ?? {}),
  });
}

export async function writeManifest(
  store: ObjectStore,
  key: string,
  manifest: Manifest,
): Promise<void> {
  await store.put(key, serialiseManifest(manifest), { contentType: 'application/json' });
}

/** Whether two manifests describe the same files and links (syncedAtMs aside). */
export function sameContents(a: Manifest, b: Manifest): boolean {
  return (
    serialiseManifest({ ...a, syncedAtMs: undefined }) ===
    serialiseManifest({ ...b, syncedAtMs: undefined })
  );
}

/**
 * An mtime in whole milliseconds, as the manifest keeps it. Rounded, not truncated: setting a
 * file's mtime goes through floating-point seconds, and `x.553` may come back as `x.552999`.
 */
export function wholeMs(mtimeMs: number): number {
  return Math.round(mtimeMs);
}

/** How long before a sync's start a file's mtime must be for size+mtime to be trusted. */
export const RACY_WINDOW_MS = 2000;

/**
 * Whether a file whose lstat gives `size` and `mtimeMs` can be taken to hold `entry`'s bytes
 * without reading it: same size, same whole-millisecond mtime, and that mtime well before the
 * manifest's sync started (see `syncedAtMs`).
 */
export function trustedByStat(
  entry: ManifestFile,
  syncedAtMs: number | undefined,
  size: number,
  mtimeMs: number,
): boolean {
  return (
    syncedAtMs !== undefined &&
    entry.size === size &&
    entry.mtimeMs === wholeMs(mtimeMs) &&
    entry.mtimeMs < syncedAtMs - RACY_WINDOW_MS
  );
}
