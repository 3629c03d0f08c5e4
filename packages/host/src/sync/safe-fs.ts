import { constants as fsc } from 'node:fs';
import type { Stats } from 'node:fs';
import {
  access,
  lstat,
  mkdir,
  open,
  readdir,
  rename,
  rmdir,
  symlink,
  unlink,
  lchown,
  readlink,
} from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';

/*
 * File operations beneath a directory that another party (the container's uid 1000) writes at
 * the same time. Node has no openat(), so every operation names its parent through
 * `/proc/self/fd/<fd of the parent directory>/<name>`: the kernel resolves the magic link to the
 * directory that was opened, never re-walking a path the container may have changed, and the
 * last component is opened with O_NOFOLLOW. A directory is only ever entered through an fd
 * opened with O_DIRECTORY | O_NOFOLLOW, so a symlink (or a directory swapped for one) is never
 * followed out of the tree. Linux only.
 */

const FD_DIR = '/proc/self/fd';

const DIR_FLAGS = fsc.O_RDONLY | fsc.O_DIRECTORY | fsc.O_NOFOLLOW;
/** O_NONBLOCK: opening a FIFO swapped in after the walk must not wait for a writer. */
const READ_FLAGS = fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK;

export interface Owner {
  uid: number;
  gid: number;
}

/** The path of `name` inside the directory open as `dir`. */
export function at(dir: FileHandle, name: string | Buffer): string | Buffer {
  return typeof name === 'string'
    ? `${FD_DIR}/${dir.fd}/${name}`
    : Buffer.concat([Buffer.from(`${FD_DIR}/${dir.fd}/`), name]);
}

export function errnoOf(err: unknown): string | undefined {
  return err instanceof Error ? (err as NodeJS.ErrnoException).code : undefined;
}

/**
 * Opens the sync's root directory (a path the host chose, so it may itself be reached by a
 * link), and checks that `/proc/self/fd` reaches it.
 */
export async function openRoot(dir: string): Promise<FileHandle> {
  const fh = await open(dir, fsc.O_RDONLY | fsc.O_DIRECTORY);
  try {
    await access(`${FD_DIR}/${fh.fd}`);
  } catch (err) {
    await fh.close();
    throw new Error(`sync needs ${FD_DIR} (Linux with /proc mounted): ${(err as Error).message}`);
  }
  return fh;
}

/** Opens the child directory `name`, refusing a symlink (ELOOP) or a non-directory (ENOTDIR). */
export async function openDirAt(parent: FileHandle, name: string | Buffer): Promise<FileHandle> {
  return open(at(parent, name), DIR_FLAGS);
}

/** A second handle on the same directory (closing one leaves the other open). */
export async function reopenDir(dir: FileHandle): Promise<FileHandle> {
  return open(`${FD_DIR}/${dir.fd}`, fsc.O_RDONLY | fsc.O_DIRECTORY);
}

/** Walks `segments` down from `root`, each step refusing symlinks; the caller closes the result. */
export async function openDirBeneath(
  root: FileHandle,
  segments: readonly string[],
): Promise<FileHandle> {
  let current = await reopenDir(root);
  for (const segment of segments) {
    try {
      const next = await openDirAt(current, segment);
      await current.close();
      current = next;
    } catch (err) {
      await current.close();
      throw err;
    }
  }
  return current;
}

/**
 * Like openDirBeneath, creating missing directories (mode 0755, chowned to `owner`) and replacing
 * anything that is in the way (a file or a symlink where a directory must be) by removing it.
 */
export async function ensureDirBeneath(
  root: FileHandle,
  segments: readonly string[],
  owner: Owner | undefined,
): Promise<FileHandle> {
  let current = await reopenDir(root);
  try {
    for (const segment of segments) {
      current = await stepInto(current, segment, owner);
    }
    return current;
  } catch (err) {
    // The walk's own error is what the caller needs; a failed close of the handle adds nothing.
    await current.close().catch(() => undefined);
    throw err;
  }
}

async function stepInto(
  parent: FileHandle,
  name: string,
  owner: Owner | undefined,
): Promise<FileHandle> {
  for (let attempt = 0; ; attempt += 1) {
    try {
      const next = await openDirAt(parent, name);
      await parent.close();
      return next;
    } catch (err) {
      const code = errnoOf(err);
      if (attempt >= 3 || (code !== 'ENOENT' && code !== 'ELOOP' && code !== 'ENOTDIR')) throw err;
      if (code !== 'ENOENT') await removeAt(parent, name);
      try {
        await mkdir(at(parent, name), 0o755);
        const created = await openDirAt(parent, name);
        try {
          await created.chmod(0o755);
          if (owner !== undefined) await created.chown(owner.uid, owner.gid);
        } catch (err) {
          await created.close();
          throw err;
        }
        await parent.close();
        return created;
      } catch (mkErr) {
        if (errnoOf(mkErr) !== 'EEXIST') throw mkErr;
      }
    }
  }
}

export type EntryKind = 'file' | 'dir' | 'link' | 'fifo' | 'socket' | 'device';

export function kindOf(stat: Stats): EntryKind {
  if (stat.isFile()) return 'file';
  if (stat.isDirectory()) return 'dir';
  if (stat.isSymbolicLink()) return 'link';
  if (stat.isFIFO()) return 'fifo';
  if (stat.isSocket()) return 'socket';
  return 'device';
}

export async function lstatAt(dir: FileHandle, name: string | Buffer): Promise<Stats> {
  return lstat(at(dir, name));
}

export async function readdirAt(dir: FileHandle): Promise<Buffer[]> {
  return readdir(`${FD_DIR}/${dir.fd}`, { encoding: 'buffer' });
}

export async function readlinkAt(dir: FileHandle, name: string | Buffer): Promise<Buffer> {
  return readlink(at(dir, name), { encoding: 'buffer' });
}

export type OpenedFile =
  | { ok: true; fh: FileHandle; stat: Stats }
  | { ok: false; reason: 'vanished' | 'changed' | 'unreadable' };

/**
 * Opens a regular file for reading without following any link on the way or at the end, then
 * checks with fstat that what was opened is a regular file. A name swapped for a symlink, FIFO,
 * device or directory after the walk answers `changed`; a removed one `vanished`.
 */
export async function openFileAt(dir: FileHandle, name: string): Promise<OpenedFile> {
  let fh: FileHandle;
  try {
    fh = await open(at(dir, name), READ_FLAGS);
  } catch (err) {
    const code = errnoOf(err);
    if (code === 'ENOENT') return { ok: false, reason: 'vanished' };
    if (code === 'EACCES' || code === 'EPERM') return { ok: false, reason: 'unreadable' };
    if (code === 'ELOOP' || code === 'ENOTDIR' || code === 'ENXIO' || code === 'EISDIR') {
      return { ok: false, reason: 'changed' };
    }
    throw err;
  }
  let stat: Stats;
  try {
    stat = await fh.stat();
  } catch (err) {
    await fh.close();
    throw err;
  }
  if (!stat.isFile()) {
    await fh.close();
    return { ok: false, reason: 'changed' };
  }
  return { ok: true, fh, stat };
}

/** Opens `relPath` (already checked) beneath `root`, with the guarantees of openFileAt. */
export async function openFileBeneath(root: FileHandle, relPath: string): Promise<OpenedFile> {
  const segments = relPath.split('/');
  const name = segments.pop() ?? '';
  let dir: FileHandle;
  try {
    dir = await openDirBeneath(root, segments);
  } catch (err) {
    const code = errnoOf(err);
    if (code === 'ENOENT') return { ok: false, reason: 'vanished' };
    if (code === 'ELOOP' || code === 'ENOTDIR') return { ok: false, reason: 'changed' };
    if (code === 'EACCES') return { ok: false, reason: 'unreadable' };
    throw err;
  }
  try {
    return await openFileAt(dir, name);
  } finally {
    await dir.close();
  }
}

/** Removes whatever `name` is (file, link, special file or whole directory tree) without following links. */
export async function removeAt(parent: FileHandle, name: string | Buffer): Promise<void> {
  try {
    await unlink(at(parent, name));
    return;
  } catch (err) {
    const code = errnoOf(err);
    if (code === 'ENOENT') return;
    if (code !== 'EISDIR' && code !== 'EPERM') throw err;
  }
  let child: FileHandle;
  try {
    child = await openDirAt(parent, name);
  } catch (err) {
    const code = errnoOf(err);
    if (code === 'ENOENT') return;
    // Swapped for a non-directory since unlink failed: unlink that instead.
    if (code === 'ELOOP' || code === 'ENOTDIR') return removeAt(parent, name);
    throw err;
  }
  try {
    for (const entry of await readdirAt(child)) await removeAt(child, entry);
  } finally {
    await child.close();
  }
  try {
    await rmdir(at(parent, name));
  } catch (err) {
    if (errnoOf(err) !== 'ENOENT') throw err;
  }
}

/** Replaces `name` in `dir` by `tmpName` (same directory); a directory in the way is removed first. */
export async function renameAt(dir: FileHandle, tmpName: string, name: string): Promise<void> {
  try {
    await rename(at(dir, tmpName), at(dir, name));
  } catch (err) {
    const code = errnoOf(err);
    if (code !== 'EISDIR' && code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
    await removeAt(dir, name);
    await rename(at(dir, tmpName), at(dir, name));
  }
}

/** Creates the symlink `name` -> `target` in `dir`, replacing what is there atomically. */
export async function symlinkAt(
  dir: FileHandle,
  tmpName: string,
  name: string,
  target: string,
  owner: Owner | undefined,
): Promise<void> {
  await symlink(target, at(dir, tmpName));
  try {
    if (owner !== undefined) await lchown(at(dir, tmpName), owner.uid, owner.gid);
    await renameAt(dir, tmpName, name);
  } catch (err) {
    // The temporary file may not exist yet; the write's own error is what the caller needs.
    await unlink(at(dir, tmpName)).catch(() => undefined);
    throw err;
  }
}

/** Opens a new file `tmpName` in `dir` for writing; fails if anything has that name. */
export async function createFileAt(dir: FileHandle, tmpName: string): Promise<FileHandle> {
  return open(at(dir, tmpName), fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
}

/**
 * A Writable that writes to `fh` from offset 0, batching queued chunks into one writev, and
 * shows each chunk to `observe` first (hashing, counting; throwing from it fails the write). The
 * handle stays open, and the caller's, when the stream finishes.
 */
export function fileWriter(fh: FileHandle, observe?: (chunk: Buffer) => void): Writable {
  let position = 0;
  const writeAll = async (buffers: Buffer[]): Promise<void> => {
    if (observe !== undefined) for (const b of buffers) observe(b);
    let pending = buffers.filter((b) => b.length > 0);
    while (pending.length > 0) {
      const { bytesWritten } = await fh.writev(pending, position);
      position += bytesWritten;
      let skip = bytesWritten;
      while (pending.length > 0 && skip >= (pending[0]?.length ?? 0)) {
        skip -= pending[0]?.length ?? 0;
        pending = pending.slice(1);
      }
      if (skip > 0 && pending[0] !== undefined) {
        pending = [pending[0].subarray(skip), ...pending.slice(1)];
      }
    }
  };
  const run = (buffers: Buffer[], callback: (err?: Error | null) => void): void => {
    writeAll(buffers).then(
      () => callback(),
      (err: unknown) => callback(err instanceof Error ? err : new Error(String(err))),
    );
  };
  return new Writable({
    highWaterMark: 1024 * 1024,
    write(chunk: Buffer, _encoding, callback) {
      run([chunk], callback);
    },
    writev(chunks, callback) {
      run(
        chunks.map((c) => c.chunk as Buffer),
        callback,
      );
    },
  });
}
