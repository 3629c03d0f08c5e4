import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { WorkcellError } from '@workcell/protocol';
import * as layout from '../storage/layout.js';
import type { ObjectStore } from '../storage/object-store.js';
import { HashingCounter, sha256, TooLargeError } from './hashing.js';
import type { Manifest, ManifestFile } from './manifest.js';

/**
 * Content addressing of a tenant's workspace files: a version 2 manifest names each file's
 * bytes by sha256 (`layout.blobKey`), so bytes shared by paths, snapshots and forked workspaces
 * are stored once. A version 1 manifest names them by path under the workspace's `files/`.
 */
export interface ContentAddressing {
  /** The key of the blob holding bytes with this sha256. */
  blobKey(sha256: string): string;
  /** A fresh key for a streamed upload whose hash is not known yet. */
  stagingKey(): string;
}

/** Content addressing under the tenant's `blobs/` (layout.ts). */
export function tenantBlobs(tenant: string): ContentAddressing {
  return {
    blobKey: (sha) => layout.blobKey(tenant, sha),
    stagingKey: () => layout.blobStagingKey(tenant, randomUUID()),
  };
}

/** Whether the manifest names its files' bytes by sha256. */
export function isContentAddressed(manifest: Manifest): boolean {
  return manifest.version === 2;
}

/** The object holding `entry`'s bytes as `manifest` names it (either layout). */
export function objectKeyOf(
  manifest: Manifest,
  filesPrefix: string,
  path: string,
  entry: ManifestFile,
  blobs: ContentAddressing | undefined,
): string {
  if (!isContentAddressed(manifest)) return filesPrefix + path;
  if (blobs === undefined)
    throw new WorkcellError('internal', 'a content-addressed manifest needs its blobs');
  return blobs.blobKey(entry.sha256);
}

/**
 * Stores `body` as a blob and answers its size and sha256. A buffer goes straight to its blob
 * (skipped when `present` already names its hash); a stream goes to a staging key while it is
 * hashed, then is copied inside the store to its blob, so a blob's name always matches its
 * bytes. Throws TooLargeError past `maxBytes`.
 */
export async function storeBlob(
  store: ObjectStore,
  blobs: ContentAddressing,
  body: Buffer | Readable,
  maxBytes: number,
  present?: ReadonlySet<string>,
): Promise<{ size: number; sha256: string; stored: boolean }> {
  if (Buffer.isBuffer(body)) {
    if (body.length > maxBytes) throw new TooLargeError(maxBytes);
    const sha = sha256(body);
    if (present?.has(sha)) return { size: body.length, sha256: sha, stored: false };
    await store.put(blobs.blobKey(sha), body);
    return { size: body.length, sha256: sha, stored: true };
  }
  const counter = new HashingCounter(maxBytes);
  body.on('error', (err) => counter.destroy(err));
  body.pipe(counter);
  const staging = blobs.stagingKey();
  try {
    try {
      await store.put(staging, counter);
    } catch (err) {
      const cause = (err as { cause?: unknown }).cause;
      if (cause instanceof TooLargeError) throw cause;
      if (counter.bytes > maxBytes) throw new TooLargeError(maxBytes);
      throw err;
    }
    const sha = counter.digest();
    if (present?.has(sha)) return { size: counter.bytes, sha256: sha, stored: false };
    await store.copy(staging, blobs.blobKey(sha));
    return { size: counter.bytes, sha256: sha, stored: true };
  } finally {
    await store.delete(staging).catch(() => undefined);
  }
}

/**
 * Turns a version 1 manifest into a version 2 one: every file's object is copied (inside the
 * store) to its blob. The caller writes the answer as the manifest and then deletes the old
 * objects under `filesPrefix`; it holds the workspace lock throughout.
 */
export async function migrateToBlobs(
  store: ObjectStore,
  blobs: ContentAddressing,
  filesPrefix: string,
  manifest: Manifest,
): Promise<Manifest> {
  if (isContentAddressed(manifest)) return manifest;
  const done = new Set<string>();
  for (const [path, entry] of Object.entries(manifest.files)) {
    if (done.has(entry.sha256)) continue;
    await store.copy(filesPrefix + path, blobs.blobKey(entry.sha256));
    done.add(entry.sha256);
  }
  return { ...manifest, version: 2 };
}

/** The hashes a content-addressed manifest names (none for version 1). */
export function blobsOf(manifest: Manifest): Set<string> {
  if (!isContentAddressed(manifest)) return new Set();
  return new Set(Object.values(manifest.files).map((f) => f.sha256));
}
