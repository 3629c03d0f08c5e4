import { createHash, randomUUID } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { mkdir } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { WorkcellError } from '@workcell/protocol';
import type { Logger } from 'pino';
import { checkObjectKey } from '../storage/object-key.js';
import type { ObjectStore } from '../storage/object-store.js';
import { HashingCounter, readWhole, TooLargeError } from './hashing.js';
import { mapLimit, Semaphore } from './limit.js';
import type { Manifest, ManifestFile, ManifestLink } from './manifest.js';
import {
  EXEC_MODE,
  FILE_MODE,
  readManifest,
  sameContents,
  trustedByStat,
  wholeMs,
  writeManifest,
} from './manifest.js';
import type { Owner } from './safe-fs.js';
import {
  createFileAt,
  ensureDirBeneath,
  fileWriter,
  errnoOf,
  kindOf,
  lstatAt,
  openDirAt,
  openFileBeneath,
  openRoot,
  readdirAt,
  readlinkAt,
  removeAt,
  renameAt,
  symlinkAt,
} from './safe-fs.js';
import { workspacePathProblem } from '../storage/workspace-path.js';
import type { ContentAddressing } from './content.js';
import { blobsOf, isContentAddressed, objectKeyOf, storeBlob } from './content.js';

/** Parallel file transfers of one sync. */
const DEFAULT_CONCURRENCY = 16;
/** Files up to this size are read into memory and sent in one request; larger ones stream. */
const SMALL_FILE_BYTES = 8 * 1024 * 1024;
/** Streamed (large) uploads at once: each holds up to partSize x queueSize bytes in memory. */
const LARGE_UPLOADS = 2;
/** Longest symlink target recorded. */
const MAX_LINK_TARGET_BYTES = 4096;
const TEMP_PREFIX = '.workcell-tmp-';
/** The container's user: files synced in belong to it when the host runs as root. */
const CONTAINER_OWNER: Owner = { uid: 1000, gid: 1000 };

export type SkipReason =
  | 'invalid_path'
  | 'too_large'
  | 'fifo'
  | 'socket'
  | 'device'
  | 'invalid_link'
  | 'conflict'
  | 'changed'
  | 'vanished'
  | 'unreadable';

/** An entry of the directory that a sync left out, and why. */
export interface SkippedEntry {
  path: string;
  reason: SkipReason;
  detail?: string;
}

interface SyncTarget {
  /** The host directory (bind-mounted into the container). */
  dir: string;
  store: ObjectStore;
  /** Prefix of the objects, ending with `/` (layout's workspaceFilesPrefix or sessionsPrefix). */
  filesPrefix: string;
  /** Key of the manifest (layout's workspaceManifestKey or sessionsManifestKey). */
  manifestKey: string;
  /**
   * Content addressing of the tree's files: syncOut writes a version 2 manifest whose files'
   * bytes are blobs, and syncIn reads one. Without it, files are stored by path (version 1).
   */
  blobs?: ContentAddressing;
  /** Transfers at once; default 16. */
  concurrency?: number;
  logger?: Logger;
}

export interface SyncOutOptions extends SyncTarget {
  /** Files larger than this are skipped (`too_large`), never read. */
  maxFileBytes: number;
  /** The stored manifest, when the caller has it (saves reading it). */
  previous?: Manifest;
  /** Epoch milliseconds; defaults to Date.now. */
  now?: () => number;
}

export interface SyncOutResult {
  /** Paths whose bytes were stored. */
  uploaded: string[];
  /** Paths whose objects were removed (deleted in the directory, or now skipped). */
  deleted: string[];
  skipped: SkippedEntry[];
  /** Bytes uploaded. */
  bytes: number;
  /** Files read to compare their hash (size and mtime could not vouch for them). */
  hashed: number;
  /** The manifest now stored; pass it as `previous` next time. */
  manifest: Manifest;
  /** Whether anything changed, so the manifest was written. */
  changed: boolean;
}

export interface SyncInOptions extends SyncTarget {
  /** The manifest to restore, when the caller has it (saves reading it). */
  manifest?: Manifest;
  /**
   * What the directory held after its last sync (the manifest a syncIn or syncOut of this
   * directory returned): files whose size and mtime still match it are not read.
   */
  known?: Manifest;
  /**
   * Owner of written files and created directories. Default: uid/gid 1000 (the container's
   * user) when this process is root, otherwise left as created; null never changes owners.
   */
  owner?: Owner | null;
  /**
   * Keeps what changed in the directory since its last sync (`known`, else the manifest) instead
   * of undoing it: files and links it did not hold then, and files changed since whose stored
   * bytes did not change. Used while a terminal may have written there and has not been synced
   * out; the next sync out stores the kept changes.
   */
  keepLocalChanges?: boolean;
}

export interface SyncInResult {
  /** Paths written (files downloaded, links created). */
  written: string[];
  /** Paths removed from the directory because the manifest does not have them. */
  deleted: string[];
  /** Manifest entries that could not be placed (invalid path, or a file where a directory must be). */
  skipped: SkippedEntry[];
  /** Bytes downloaded. */
  bytes: number;
  hashed: number;
  /** The manifest the directory now matches; pass it as `known` next time. */
  manifest: Manifest;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeName(name: Buffer): string | null {
  try {
    return utf8.decode(name);
  } catch {
    return null;
  }
}

function syncError(what: string, err: unknown): WorkcellError {
  if (err instanceof WorkcellError && err.code === 'sync_failed') return err;
  const message = err instanceof Error ? err.message : String(err);
  const wrapped = new WorkcellError('sync_failed', `${what}: ${message}`);
  wrapped.cause = err;
  return wrapped;
}

function defaultOwner(): Owner | undefined {
  return process.getuid?.() === 0 ? CONTAINER_OWNER : undefined;
}

function splitPath(path: string): { segments: string[]; name: string } {
  const segments = path.split('/');
  const name = segments.pop() ?? '';
  return { segments, name };
}

interface WalkedFile {
  path: string;
  size: number;
  mtimeMs: number;
  executable: boolean;
}

interface OutWalk {
  files: WalkedFile[];
  links: Record<string, ManifestLink>;
  skipped: SkippedEntry[];
}

/**
 * Lists the directory for syncOut without following any symlink: regular files, symlinks (by
 * target) and the reasons for everything left out. Symlinked directories are links, never
 * descended; special files and files over the limit are skipped without being opened.
 */
async function walkForOut(root: FileHandle, maxFileBytes: number): Promise<OutWalk> {
  const walk: OutWalk = { files: [], links: {}, skipped: [] };
  const skip = (path: string, reason: SkipReason, detail?: string): void => {
    walk.skipped.push(detail === undefined ? { path, reason } : { path, reason, detail });
  };
  const visit = async (dir: FileHandle, base: string): Promise<void> => {
    let names: Buffer[];
    try {
      names = await readdirAt(dir);
    } catch (err) {
      if (errnoOf(err) !== 'EACCES') throw err;
      skip(base.slice(0, -1), 'unreadable');
      return;
    }
    const subdirs: { name: string; path: string }[] = [];
    await mapLimit(names, 32, async (raw) => {
      const name = decodeName(raw);
      const path = base + (name ?? raw.toString('utf8'));
      if (name === null) return skip(path, 'invalid_path', 'name is not valid UTF-8');
      const problem = workspacePathProblem(path);
      if (problem !== null) return skip(path, 'invalid_path', problem);
      let stat;
      try {
        stat = await lstatAt(dir, name);
      } catch (err) {
        if (errnoOf(err) === 'ENOENT') return undefined;
        throw err;
      }
      const kind = kindOf(stat);
      switch (kind) {
        case 'dir':
          subdirs.push({ name, path });
          return undefined;
        case 'file':
          if (stat.size > maxFileBytes) return skip(path, 'too_large', `${stat.size} bytes`);
          walk.files.push({
            path,
            size: stat.size,
            mtimeMs: stat.mtimeMs,
            executable: (stat.mode & 0o111) !== 0,
          });
          return undefined;
        case 'link': {
          let target: Buffer;
          try {
            target = await readlinkAt(dir, name);
          } catch (err) {
            if (errnoOf(err) === 'ENOENT' || errnoOf(err) === 'EINVAL')
              return skip(path, 'vanished');
            throw err;
          }
          const text = decodeName(target);
          if (text === null || text === '' || target.length > MAX_LINK_TARGET_BYTES) {
            return skip(path, 'invalid_link', 'target is empty, too long or not UTF-8');
          }
          walk.links[path] = { target: text };
          return undefined;
        }
        case 'fifo':
        case 'socket':
        case 'device':
          return skip(path, kind);
      }
    });
    for (const sub of subdirs) {
      let child: FileHandle;
      try {
        child = await openDirAt(dir, sub.name);
      } catch (err) {
        const code = errnoOf(err);
        if (code === 'ENOENT') continue;
        if (code === 'ELOOP' || code === 'ENOTDIR') {
          skip(sub.path, 'changed', 'no longer a directory');
          continue;
        }
        if (code === 'EACCES') {
          skip(sub.path, 'unreadable');
          continue;
        }
        throw err;
      }
      try {
        await visit(child, `${sub.path}/`);
      } finally {
        await child.close();
      }
    }
  };
  await visit(root, '');
  return walk;
}

/**
 * Stores what changed in `dir` under `filesPrefix` and writes the manifest. Never follows a
 * symlink: links are recorded by target; special files, files over `maxFileBytes` and invalid
 * names are skipped with a reason. A file is uploaded only when its size or sha256 differs from
 * the stored manifest (size and mtime vouch for an unchanged file). The manifest is written
 * after every upload, so it never names bytes that are not stored, and objects of deleted files
 * are removed after it, so a stored manifest never names a removed object. With nothing changed
 * the sync sends no request at all when `previous` is given, else one manifest read.
 */
export async function syncOut(options: SyncOutOptions): Promise<SyncOutResult> {
  const { store, filesPrefix, manifestKey, maxFileBytes } = options;
  const now = options.now ?? Date.now;
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  let root: FileHandle;
  try {
    root = await openRoot(options.dir);
  } catch (err) {
    throw syncError(`sync out of ${options.dir}`, err);
  }
  try {
    const blobs = options.blobs;
    const stored = options.previous ?? (await readManifest(store, manifestKey));
    // Moving a path-addressed tree to blobs: nothing of the old manifest names a blob, so every
    // file is read and stored once; the old objects go after the new manifest is written.
    const migrating = blobs !== undefined && !isContentAddressed(stored);
    const previous = migrating ? { ...stored, files: {} } : stored;
    const present = blobsOf(previous);
    const startedAt = Math.trunc(now());
    const walk = await walkForOut(root, maxFileBytes);
    const skipped = walk.skipped;
    const next: Manifest = {
      version: blobs ? 2 : 1,
      syncedAtMs: startedAt,
      files: {},
      links: walk.links,
    };
    const uploaded: string[] = [];
    let bytes = 0;
    let hashed = 0;

    const candidates: { file: WalkedFile; prev: ManifestFile | undefined }[] = [];
    for (const file of walk.files) {
      const prev = previous.files[file.path];
      if (prev !== undefined && trustedByStat(prev, previous.syncedAtMs, file.size, file.mtimeMs)) {
        next.files[file.path] = withMode({ ...prev }, file.executable);
      } else {
        candidates.push({ file, prev });
      }
    }

    const large = new Semaphore(LARGE_UPLOADS);
    await mapLimit(candidates, concurrency, async ({ file, prev }) => {
      const key = filesPrefix + file.path;
      try {
        if (!blobs) checkObjectKey(key);
      } catch (err) {
        skipped.push({ path: file.path, reason: 'invalid_path', detail: (err as Error).message });
        return;
      }
      const opened = await openFileBeneath(root, file.path);
      if (!opened.ok) {
        skipped.push({ path: file.path, reason: opened.reason });
        return;
      }
      const { fh, stat } = opened;
      try {
        const entry = (size: number, sha: string): ManifestFile =>
          withMode(
            { size, sha256: sha, mtimeMs: wholeMs(stat.mtimeMs) },
            (stat.mode & 0o111) !== 0,
          );
        if (stat.size > maxFileBytes) {
          skipped.push({ path: file.path, reason: 'too_large', detail: `${stat.size} bytes` });
          return;
        }
        if (prev !== undefined && prev.size === stat.size) {
          hashed += 1;
          const local = await readWhole(fh, maxFileBytes, false, stat.size);
          if (local.sha256 === prev.sha256 && local.size === prev.size) {
            next.files[file.path] = entry(local.size, local.sha256);
            return;
          }
        }
        const put = blobs
          ? stat.size <= SMALL_FILE_BYTES
            ? await uploadSmallBlob(store, blobs, fh, maxFileBytes, stat.size, present)
            : await large.run(() => uploadLargeBlob(store, blobs, fh, maxFileBytes, present))
          : stat.size <= SMALL_FILE_BYTES
            ? await uploadSmall(store, key, fh, maxFileBytes, stat.size)
            : await large.run(() => uploadLarge(store, key, fh, maxFileBytes));
        next.files[file.path] = entry(put.size, put.sha256);
        if (put.stored) {
          uploaded.push(file.path);
          bytes += put.size;
        }
      } catch (err) {
        if (!(err instanceof TooLargeError)) throw err;
        skipped.push({ path: file.path, reason: 'too_large', detail: 'grew while it was read' });
      } finally {
        await fh.close();
      }
    });

    const deleted = Object.keys(stored.files).filter((path) => next.files[path] === undefined);
    const changed = uploaded.length > 0 || deleted.length > 0 || !sameContents(stored, next);
    if (changed) {
      await writeManifest(store, manifestKey, next);
      // Blobs outlive the manifest (snapshots and other workspaces share them): the blob
      // collector removes them. Path-addressed objects of removed files go now.
      if (migrating) await store.deletePrefix(filesPrefix);
      else if (!blobs && deleted.length > 0)
        await store.deleteMany(deleted.map((path) => filesPrefix + path));
    }
    options.logger?.debug(
      {
        dir: options.dir,
        uploaded: uploaded.length,
        deleted: deleted.length,
        skipped: skipped.length,
        bytes,
        hashed,
      },
      'sync out',
    );
    return {
      uploaded,
      deleted,
      skipped,
      bytes,
      hashed,
      manifest: changed ? next : stored,
      changed,
    };
  } catch (err) {
    throw syncError(`sync out of ${options.dir} to ${filesPrefix}`, err);
  } finally {
    await root.close();
  }
}

function withMode(entry: ManifestFile, executable: boolean): ManifestFile {
  const { mode: _mode, ...rest } = entry;
  return executable ? { ...rest, mode: EXEC_MODE } : rest;
}

async function uploadSmallBlob(
  store: ObjectStore,
  blobs: ContentAddressing,
  fh: FileHandle,
  maxBytes: number,
  sizeHint: number,
  present: ReadonlySet<string>,
): Promise<{ size: number; sha256: string; stored: boolean }> {
  const { data } = await readWhole(fh, maxBytes, true, sizeHint);
  return storeBlob(store, blobs, data ?? Buffer.alloc(0), maxBytes, present);
}

async function uploadLargeBlob(
  store: ObjectStore,
  blobs: ContentAddressing,
  fh: FileHandle,
  maxBytes: number,
  present: ReadonlySet<string>,
): Promise<{ size: number; sha256: string; stored: boolean }> {
  const source = fh.createReadStream({ start: 0, autoClose: false, highWaterMark: 1024 * 1024 });
  try {
    return await storeBlob(store, blobs, source, maxBytes, present);
  } finally {
    source.destroy();
  }
}

async function uploadSmall(
  store: ObjectStore,
  key: string,
  fh: FileHandle,
  maxBytes: number,
  sizeHint: number,
): Promise<{ size: number; sha256: string; stored: true }> {
  const { size, sha256, data } = await readWhole(fh, maxBytes, true, sizeHint);
  await store.put(key, data ?? Buffer.alloc(0));
  return { size, sha256, stored: true };
}

async function uploadLarge(
  store: ObjectStore,
  key: string,
  fh: FileHandle,
  maxBytes: number,
): Promise<{ size: number; sha256: string; stored: true }> {
  const counter = new HashingCounter(maxBytes);
  const source = fh.createReadStream({ start: 0, autoClose: false, highWaterMark: 1024 * 1024 });
  source.on('error', (err) => counter.destroy(err));
  source.pipe(counter);
  try {
    await store.put(key, counter);
  } catch (err) {
    const cause = (err as { cause?: unknown }).cause;
    if (cause instanceof TooLargeError) throw cause;
    if (counter.bytes > maxBytes) throw new TooLargeError(maxBytes);
    throw err;
  } finally {
    source.unpipe(counter);
    source.destroy();
  }
  return { size: counter.bytes, sha256: counter.digest(), stored: true };
}

interface LocalFile {
  size: number;
  mtimeMs: number;
  executable: boolean;
}

interface InWalk {
  files: Map<string, LocalFile>;
  links: Map<string, string>;
  deleted: string[];
}

/**
 * Walks the directory for syncIn, removing on the way everything the manifest does not have
 * (files, links, special files, invalid names, directories no manifest path needs), and
 * reporting the files and links that may already be right. With `keep` (what the directory
 * held at its last sync), entries created or changed since are left in place.
 */
async function walkForIn(
  root: FileHandle,
  target: Manifest,
  neededDirs: ReadonlySet<string>,
  keep?: Manifest,
): Promise<InWalk> {
  const found: InWalk = { files: new Map(), links: new Map(), deleted: [] };
  const visit = async (dir: FileHandle, base: string): Promise<void> => {
    const subdirs: { name: string; path: string }[] = [];
    await mapLimit(await readdirAt(dir), 32, async (raw) => {
      const name = decodeName(raw);
      const path = base + (name ?? raw.toString('utf8'));
      if (name === null || workspacePathProblem(path) !== null) {
        await removeAt(dir, raw);
        found.deleted.push(path);
        return;
      }
      let stat;
      try {
        stat = await lstatAt(dir, name);
      } catch (err) {
        if (errnoOf(err) === 'ENOENT') return;
        throw err;
      }
      const kind = kindOf(stat);
      if (kind === 'dir' && (neededDirs.has(path) || keep)) {
        subdirs.push({ name, path });
        return;
      }
      if (kind === 'file' && target.files[path] !== undefined) {
        found.files.set(path, {
          size: stat.size,
          mtimeMs: stat.mtimeMs,
          executable: (stat.mode & 0o111) !== 0,
        });
        return;
      }
      if (kind === 'link' && target.links?.[path] !== undefined) {
        const linkTarget = decodeName(await readlinkAt(dir, name));
        if (linkTarget !== null) found.links.set(path, linkTarget);
        return;
      }
      if (keep && changedSince(keep, path, stat)) return;
      await removeAt(dir, name);
      found.deleted.push(path);
    });
    for (const sub of subdirs) {
      let child: FileHandle;
      try {
        child = await openDirAt(dir, sub.name);
      } catch (err) {
        // Replaced since lstat: the writes below put a directory back.
        if (['ENOENT', 'ELOOP', 'ENOTDIR'].includes(errnoOf(err) ?? '')) continue;
        throw err;
      }
      try {
        await visit(child, `${sub.path}/`);
      } finally {
        await child.close();
      }
    }
  };
  await visit(root, '');
  return found;
}

/** Whether a local entry is new or changed since the directory's last sync (`keep`). */
function changedSince(
  keep: Manifest,
  path: string,
  stat: { size: number; mtimeMs: number; isFile(): boolean },
): boolean {
  const known = keep.files[path];
  if (known !== undefined)
    return !stat.isFile() || known.size !== stat.size || known.mtimeMs !== wholeMs(stat.mtimeMs);
  return keep.links?.[path] === undefined;
}

/**
 * Drops manifest entries that cannot be placed: invalid paths, and any path that another entry
 * needs as a directory. Returns the directories the remaining entries need.
 */
function placeable(
  manifest: Manifest,
  skipped: SkippedEntry[],
): { target: Manifest; neededDirs: Set<string> } {
  const files: Record<string, ManifestFile> = {};
  const links: Record<string, ManifestLink> = {};
  const neededDirs = new Set<string>();
  const valid = (path: string): boolean => {
    const problem = workspacePathProblem(path);
    if (problem !== null) skipped.push({ path, reason: 'invalid_path', detail: problem });
    return problem === null;
  };
  const paths = [...Object.keys(manifest.files), ...Object.keys(manifest.links ?? {})].filter(
    valid,
  );
  for (const path of paths) {
    const segments = path.split('/');
    for (let i = 1; i < segments.length; i += 1) neededDirs.add(segments.slice(0, i).join('/'));
  }
  for (const path of paths) {
    if (neededDirs.has(path)) {
      skipped.push({
        path,
        reason: 'conflict',
        detail: 'another entry needs this path as a directory',
      });
      continue;
    }
    const file = manifest.files[path];
    const link = manifest.links?.[path];
    if (file !== undefined) files[path] = file;
    else if (link !== undefined) links[path] = link;
  }
  return { target: { ...manifest, files, links }, neededDirs };
}

/**
 * Makes `dir` match the manifest under `filesPrefix`: downloads the files whose bytes differ from
 * what the directory holds, recreates symlinks, removes everything the manifest does not have,
 * and sets each written file's mode (0644, or 0755 when executable) and mtime (from the
 * manifest, so a later sync can trust size and mtime). Directories no manifest path needs are
 * removed too: empty directories are not recorded, so they do not survive a move to another
 * host either. Nothing is written through a symlink: every step opens directories with
 * O_NOFOLLOW beneath `dir`. Downloads are checked against the manifest's size and sha256.
 */
export async function syncIn(options: SyncInOptions): Promise<SyncInResult> {
  const { store, filesPrefix, manifestKey } = options;
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  const owner = options.owner === null ? undefined : (options.owner ?? defaultOwner());
  let root: FileHandle;
  try {
    const created = await mkdir(options.dir, { recursive: true, mode: 0o755 });
    root = await openRoot(options.dir);
    if (created !== undefined && owner !== undefined) await root.chown(owner.uid, owner.gid);
  } catch (err) {
    throw syncError(`sync into ${options.dir}`, err);
  }
  try {
    const manifest = options.manifest ?? (await readManifest(store, manifestKey));
    const skipped: SkippedEntry[] = [];
    const { target, neededDirs } = placeable(manifest, skipped);
    const cache = options.known ?? manifest;
    const keep = options.keepLocalChanges ? cache : undefined;
    const found = await walkForIn(root, target, neededDirs, keep);
    const written: string[] = [];
    let bytes = 0;
    let hashed = 0;

    await mapLimit(Object.entries(target.files), concurrency, async ([path, entry]) => {
      const local = found.files.get(path);
      const mode = entry.mode === EXEC_MODE ? EXEC_MODE : FILE_MODE;
      if (local !== undefined) {
        const cached = cache.files[path];
        // Changed here since the last sync while the stored bytes stayed the same: keep it.
        if (
          keep &&
          cached?.sha256 === entry.sha256 &&
          changedSince(keep, path, { ...local, isFile: () => true })
        )
          return;
        const trusted =
          cached !== undefined &&
          cached.sha256 === entry.sha256 &&
          trustedByStat(cached, cache.syncedAtMs, local.size, local.mtimeMs);
        if (trusted && local.executable === (mode === EXEC_MODE)) return;
        if (local.size === entry.size) {
          if (!trusted) hashed += 1;
          if (await refreshIfSame(root, path, entry, mode, trusted)) return;
        }
      }
      const key = objectKeyOf(manifest, filesPrefix, path, entry, options.blobs);
      bytes += await download(store, root, key, path, entry, mode, owner);
      written.push(path);
    });

    await mapLimit(Object.entries(target.links ?? {}), concurrency, async ([path, link]) => {
      if (found.links.get(path) === link.target) return;
      const { segments, name } = splitPath(path);
      const dir = await ensureDirBeneath(root, segments, owner);
      try {
        await symlinkAt(dir, `${TEMP_PREFIX}${randomUUID()}`, name, link.target, owner);
      } finally {
        await dir.close();
      }
      written.push(path);
    });

    options.logger?.debug(
      { dir: options.dir, written: written.length, deleted: found.deleted.length, bytes, hashed },
      'sync in',
    );
    return { written, deleted: found.deleted, skipped, bytes, hashed, manifest };
  } catch (err) {
    throw syncError(`sync into ${options.dir} from ${filesPrefix}`, err);
  } finally {
    await root.close();
  }
}

/**
 * Checks a local file against its entry (by hash unless `trusted`); when the bytes are the
 * same, sets its mode and the manifest's mtime and answers true.
 */
async function refreshIfSame(
  root: FileHandle,
  path: string,
  entry: ManifestFile,
  mode: number,
  trusted: boolean,
): Promise<boolean> {
  const opened = await openFileBeneath(root, path);
  if (!opened.ok) return false;
  const { fh } = opened;
  try {
    if (!trusted) {
      const local = await readWhole(fh, entry.size, false, entry.size).catch((err: unknown) => {
        if (err instanceof TooLargeError) return null;
        throw err;
      });
      if (local === null || local.sha256 !== entry.sha256) return false;
    }
    await fh.chmod(mode);
    await fh.utimes(new Date(), entry.mtimeMs / 1000);
    return true;
  } finally {
    await fh.close();
  }
}

/** Downloads one object into place (temporary file, checked, renamed); answers the bytes written. */
async function download(
  store: ObjectStore,
  root: FileHandle,
  key: string,
  path: string,
  entry: ManifestFile,
  mode: number,
  owner: Owner | undefined,
): Promise<number> {
  const { segments, name } = splitPath(path);
  const dir = await ensureDirBeneath(root, segments, owner);
  const tmp = `${TEMP_PREFIX}${randomUUID()}`;
  let placed = false;
  try {
    const fh = await createFileAt(dir, tmp);
    try {
      const got = await store.get(key);
      if (got === null)
        throw new WorkcellError('sync_failed', `object ${key} named by the manifest is missing`);
      const hash = createHash('sha256');
      let bytes = 0;
      await pipeline(
        got.body,
        fileWriter(fh, (chunk) => {
          bytes += chunk.length;
          if (bytes > entry.size) throw new TooLargeError(entry.size);
          hash.update(chunk);
        }),
      );
      const sha = hash.digest('hex');
      if (bytes !== entry.size || sha !== entry.sha256) {
        throw new WorkcellError(
          'sync_failed',
          `object ${key} does not match the manifest (${bytes} bytes, sha256 ${sha})`,
        );
      }
      await fh.chmod(mode);
      if (owner !== undefined) await fh.chown(owner.uid, owner.gid);
      await fh.utimes(new Date(), entry.mtimeMs / 1000);
    } finally {
      await fh.close();
    }
    await renameAt(dir, tmp, name);
    placed = true;
    return entry.size;
  } catch (err) {
    if (err instanceof TooLargeError) {
      throw new WorkcellError(
        'sync_failed',
        `object ${key} is larger than the manifest says (${entry.size} bytes)`,
      );
    }
    throw err;
  } finally {
    // A temporary file left by a failed placement is removed when it can be; the next sync overwrites it otherwise.
    if (!placed) await removeAt(dir, tmp).catch(() => undefined);
    await dir.close();
  }
}
