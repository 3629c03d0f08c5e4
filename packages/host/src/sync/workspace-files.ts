import type { Readable } from 'node:stream';
import { WorkcellError } from '@workcell/protocol';
import type { GetRange, ObjectInfo, ObjectStore } from '../storage/object-store.js';
import type { ContentAddressing } from './content.js';
import { isContentAddressed, migrateToBlobs, objectKeyOf, storeBlob } from './content.js';
import { TooLargeError } from './hashing.js';
import { readManifest, writeManifest } from './manifest.js';
import { checkWorkspacePath } from '../storage/workspace-path.js';

/*
 * Workspace files as the API sees them, read and changed through the manifest so the API and
 * sync agree on what a workspace holds. The manifest is read, changed and written whole: the
 * caller serialises changes to one workspace (its workspace lock) against each other and
 * against a sync.
 */

/** One file as `GET /v1/workspaces/:wid/files` lists it. */
export interface WorkspaceFileInfo {
  path: string;
  size: number;
  sha256: string;
  /** ISO 8601. */
  modifiedAt: string;
}

interface FilesLocation {
  store: ObjectStore;
  /** layout's workspaceFilesPrefix (ends with `/`). */
  filesPrefix: string;
  /** layout's workspaceManifestKey. */
  manifestKey: string;
  /** The tenant's blobs: new bytes are stored there, and a version 1 manifest moves there. */
  blobs: ContentAddressing;
}

/** Every file of the workspace, in path order, from its manifest (one read, no per-file request). */
export async function listWorkspaceFiles(
  store: ObjectStore,
  manifestKey: string,
): Promise<WorkspaceFileInfo[]> {
  const manifest = await readManifest(store, manifestKey);
  return Object.entries(manifest.files)
    .map(([path, entry]) => ({
      path,
      size: entry.size,
      sha256: entry.sha256,
      modifiedAt: new Date(entry.mtimeMs).toISOString(),
    }))
    .sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
}

/** The file's bytes, or null when the manifest has no such file (the API answers 404). */
export async function getWorkspaceFile(
  location: FilesLocation & { path: string; range?: GetRange },
): Promise<{ info: ObjectInfo; body: Readable; sha256: string } | null> {
  const path = checkWorkspacePath(location.path);
  const manifest = await readManifest(location.store, location.manifestKey);
  const entry = manifest.files[path];
  if (entry === undefined) return null;
  const key = objectKeyOf(manifest, location.filesPrefix, path, entry, location.blobs);
  const got = await location.store.get(key, location.range);
  if (got === null) return null;
  return { ...got, sha256: entry.sha256 };
}

/**
 * Stores a file and records it in the manifest. Refuses (`conflict`) a path that is a directory
 * of existing files or lies under an existing file, and (`payload_too_large`) a body over
 * `maxFileBytes`.
 */
export async function putWorkspaceFile(
  location: FilesLocation & {
    path: string;
    body: Buffer | Readable;
    maxFileBytes: number;
    now?: () => number;
  },
): Promise<{ path: string; size: number; sha256: string }> {
  const { store, filesPrefix, manifestKey, maxFileBytes, blobs } = location;
  const path = checkWorkspacePath(location.path);
  const stored = await readManifest(store, manifestKey);
  const taken = [...Object.keys(stored.files), ...Object.keys(stored.links ?? {})];
  const under = `${path}/`;
  const clash = taken.find((other) => other.startsWith(under) || path.startsWith(`${other}/`));
  if (clash !== undefined) {
    throw new WorkcellError(
      'conflict',
      `${path} clashes with ${clash}: a name cannot be both a file and a directory`,
    );
  }
  const manifest = await migrateToBlobs(store, blobs, filesPrefix, stored);
  let put: { size: number; sha256: string };
  try {
    put = await storeBlob(store, blobs, location.body, maxFileBytes);
  } catch (err) {
    if (
      err instanceof TooLargeError ||
      (err as { cause?: unknown }).cause instanceof TooLargeError
    ) {
      throw new WorkcellError('payload_too_large', `file is larger than ${maxFileBytes} bytes`);
    }
    throw err;
  }
  const { size, sha256 } = put;
  const previous = manifest.files[path];
  manifest.files[path] = {
    size,
    sha256,
    mtimeMs: Math.trunc((location.now ?? Date.now)()),
    ...(previous?.mode !== undefined ? { mode: previous.mode } : {}),
  };
  if (manifest.links !== undefined) delete manifest.links[path];
  await writeManifest(store, manifestKey, manifest);
  if (!isContentAddressed(stored)) await store.deletePrefix(filesPrefix);
  return { path, size, sha256 };
}

/** Removes a file (or symlink) from the manifest, then its object; false when there was none. */
export async function deleteWorkspaceFile(
  location: FilesLocation & { path: string },
): Promise<boolean> {
  const { store, filesPrefix, manifestKey } = location;
  const path = checkWorkspacePath(location.path);
  const manifest = await readManifest(store, manifestKey);
  const isFile = manifest.files[path] !== undefined;
  const isLink = manifest.links?.[path] !== undefined;
  if (!isFile && !isLink) return false;
  delete manifest.files[path];
  if (manifest.links !== undefined) delete manifest.links[path];
  await writeManifest(store, manifestKey, manifest);
  // A blob stays for snapshots and other paths; the blob collector removes it once unnamed.
  if (isFile && !isContentAddressed(manifest)) await store.delete(filesPrefix + path);
  return true;
}
