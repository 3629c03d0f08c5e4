import { createHash, randomUUID } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { constants as fsc } from 'node:fs';
import { access, mkdir, open, readdir, rename, rmdir, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { WorkcellError } from '@workcell/protocol';
import type { Logger } from 'pino';
import {
  checkObjectKey,
  checkObjectPrefix,
  compareKeys,
  RESERVED_SEGMENT_PREFIX,
} from './object-key.js';
import { resolveRange } from './range.js';
import { storeError } from './store-error.js';
import type { GetRange, ListOptions, ObjectInfo, ObjectStore, PutOptions } from './object-store.js';

/*
 * On-disk layout. Every key segment becomes a directory, and an object's bytes live in a file
 * named `.workcell-object` inside the directory of its last segment:
 *
 *   key `a/b`   -> <root>/a/b/.workcell-object
 *   key `a/b/c` -> <root>/a/b/c/.workcell-object
 *
 * so `a/b` and `a/b/c` can both exist (S3 allows it; a sync that replaces file `x` by directory
 * `x/` briefly holds both). Key segments may not start with `.workcell`, so no key collides with
 * an internal name. The object file starts with a fixed header holding the sha256 of the bytes
 * (the ETag), so bytes and ETag change together in one rename and `head` reads 70 bytes.
 */
const OBJECT_FILE = '.workcell-object';
const TEMP_PREFIX = '.workcell-tmp-';
const MAGIC = 'WCO1 ';
/** `WCO1 ` + 64 hex digits + `\n`. */
const HEADER_BYTES = MAGIC.length + 64 + 1;

export interface DirectoryObjectStoreOptions {
  /** The directory that holds every object (`<WORKCELL_DATA_DIR>/objects`); created on demand. */
  root: string;
  logger?: Logger;
}

function isErrno(err: unknown, ...codes: string[]): boolean {
  return err instanceof Error && codes.includes((err as NodeJS.ErrnoException).code ?? '');
}

function header(sha256: string): Buffer {
  return Buffer.from(`${MAGIC}${sha256}\n`, 'latin1');
}

async function readEtag(fh: FileHandle, path: string): Promise<string> {
  const buf = Buffer.alloc(HEADER_BYTES);
  const { bytesRead } = await fh.read(buf, 0, HEADER_BYTES, 0);
  const text = buf.toString('latin1', 0, bytesRead);
  if (bytesRead !== HEADER_BYTES || !text.startsWith(MAGIC) || !text.endsWith('\n')) {
    throw new Error(`corrupt object file ${path}`);
  }
  return text.slice(MAGIC.length, -1);
}

/**
 * The embedded ObjectStore: objects as files under one directory. Writes go to a temporary file
 * in the object's directory, are fsynced and renamed into place, so a reader sees the old or the
 * new object whole, and concurrent writers of one key leave exactly one of their versions.
 */
export class DirectoryObjectStore implements ObjectStore {
  readonly description: string;
  private readonly root: string;
  private readonly logger: Logger | undefined;

  constructor(options: DirectoryObjectStoreOptions) {
    this.root = options.root;
    this.logger = options.logger;
    this.description = `dir:${options.root}`;
  }

  /** The store rooted at `<dataDir>/objects`. */
  static forDataDir(dataDir: string, logger?: Logger): DirectoryObjectStore {
    return new DirectoryObjectStore({
      root: join(dataDir, 'objects'),
      ...(logger ? { logger } : {}),
    });
  }

  private dirOf(key: string): string {
    return join(this.root, ...checkObjectKey(key).split('/'));
  }

  async put(
    key: string,
    body: Buffer | string | Readable,
    options?: PutOptions,
  ): Promise<ObjectInfo> {
    const dir = this.dirOf(key);
    try {
      return await this.writeObject(key, dir, body, options);
    } catch (err) {
      throw storeError('put', key, err);
    }
  }

  private async writeObject(
    key: string,
    dir: string,
    body: Buffer | string | Readable,
    options: PutOptions | undefined,
  ): Promise<ObjectInfo> {
    // A concurrent delete may remove the (empty) directory between mkdir and open: try again.
    let fh: FileHandle | undefined;
    let tmp = '';
    for (let attempt = 0; fh === undefined; attempt += 1) {
      await mkdir(dir, { recursive: true });
      tmp = join(dir, `${TEMP_PREFIX}${randomUUID()}`);
      try {
        fh = await open(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
      } catch (err) {
        if (!isErrno(err, 'ENOENT') || attempt >= 5) throw err;
      }
    }
    let renamed = false;
    try {
      const hash = createHash('sha256');
      let size = 0;
      let position = HEADER_BYTES;
      const writeChunk = async (chunk: Buffer): Promise<void> => {
        hash.update(chunk);
        size += chunk.length;
        let offset = 0;
        while (offset < chunk.length) {
          const { bytesWritten } = await fh.write(chunk, offset, chunk.length - offset, position);
          offset += bytesWritten;
          position += bytesWritten;
        }
      };
      if (typeof body === 'string' || Buffer.isBuffer(body)) {
        await writeChunk(typeof body === 'string' ? Buffer.from(body, 'utf8') : body);
      } else {
        for await (const chunk of body) {
          await writeChunk(
            typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : (chunk as Buffer),
          );
        }
      }
      if (options?.contentLength !== undefined && options.contentLength !== size) {
        throw new WorkcellError(
          'bad_request',
          `body of ${key} has ${size} bytes, ${options.contentLength} announced`,
        );
      }
      const etag = hash.digest('hex');
      await fh.write(header(etag), 0, HEADER_BYTES, 0);
      await fh.sync();
      const stat = await fh.stat();
      await fh.close();
      await rename(tmp, join(dir, OBJECT_FILE));
      renamed = true;
      await this.syncDir(dir);
      return { key, size, etag, modifiedAt: stat.mtime };
    } finally {
      if (!renamed) {
        // Cleaning up after a failed write: the write's own error is what the caller needs.
        await fh.close().catch(() => undefined);
        await unlink(tmp).catch(() => undefined);
      }
    }
  }

  /** Makes a rename durable: fsync of the directory that holds the new name. */
  private async syncDir(dir: string): Promise<void> {
    const dh = await open(dir, fsc.O_RDONLY | fsc.O_DIRECTORY);
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  }

  /** Opens an object's file, or null when the key has no object. */
  private async openObject(key: string): Promise<FileHandle | null> {
    const path = join(this.dirOf(key), OBJECT_FILE);
    try {
      return await open(path, fsc.O_RDONLY | fsc.O_NOFOLLOW);
    } catch (err) {
      if (isErrno(err, 'ENOENT', 'ENOTDIR')) return null;
      throw storeError('open', key, err);
    }
  }

  private async infoOf(key: string, fh: FileHandle): Promise<ObjectInfo> {
    const etag = await readEtag(fh, key);
    const stat = await fh.stat();
    return { key, size: stat.size - HEADER_BYTES, etag, modifiedAt: stat.mtime };
  }

  async get(key: string, range?: GetRange): Promise<{ info: ObjectInfo; body: Readable } | null> {
    const fh = await this.openObject(key);
    if (fh === null) return null;
    try {
      const info = await this.infoOf(key, fh);
      const { start, end } = resolveRange(key, info.size, range);
      const body = fh.createReadStream({
        start: HEADER_BYTES + start,
        end: HEADER_BYTES + end,
        autoClose: true,
      });
      return { info, body };
    } catch (err) {
      await fh.close();
      throw storeError('get', key, err);
    }
  }

  async getBuffer(key: string): Promise<Buffer | null> {
    const fh = await this.openObject(key);
    if (fh === null) return null;
    try {
      const stat = await fh.stat();
      const buf = Buffer.alloc(Math.max(0, stat.size - HEADER_BYTES));
      let offset = 0;
      while (offset < buf.length) {
        const { bytesRead } = await fh.read(
          buf,
          offset,
          buf.length - offset,
          HEADER_BYTES + offset,
        );
        if (bytesRead === 0) break;
        offset += bytesRead;
      }
      return buf.subarray(0, offset);
    } catch (err) {
      throw storeError('get', key, err);
    } finally {
      await fh.close();
    }
  }

  async head(key: string): Promise<ObjectInfo | null> {
    const fh = await this.openObject(key);
    if (fh === null) return null;
    try {
      return await this.infoOf(key, fh);
    } catch (err) {
      throw storeError('head', key, err);
    } finally {
      await fh.close();
    }
  }

  /** Keys under `prefix`, in key order, without reading the objects. */
  private async listKeys(prefix: string): Promise<string[]> {
    checkObjectPrefix(prefix);
    const slash = prefix.lastIndexOf('/');
    const base = slash < 0 ? '' : prefix.slice(0, slash + 1);
    const partial = prefix.slice(slash + 1);
    const keys: string[] = [];
    const walk = async (dir: string, keyBase: string, namePrefix: string): Promise<void> => {
      let entries: Dirent[];
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        if (isErrno(err, 'ENOENT', 'ENOTDIR')) return;
        throw err;
      }
      for (const entry of entries) {
        const name = entry.name;
        if (!entry.isDirectory() || !name.startsWith(namePrefix)) continue;
        if (name.toLowerCase().startsWith(RESERVED_SEGMENT_PREFIX)) continue;
        const child = join(dir, name);
        const key = keyBase + name;
        if (await exists(join(child, OBJECT_FILE))) keys.push(key);
        await walk(child, `${key}/`, '');
      }
    };
    const startDir = base === '' ? this.root : join(this.root, ...base.slice(0, -1).split('/'));
    await walk(startDir, base, partial);
    return keys.sort(compareKeys);
  }

  async list(prefix: string, options: ListOptions = {}): Promise<ObjectInfo[]> {
    try {
      const infos: ObjectInfo[] = [];
      const after = options.startAfter;
      const keys = (await this.listKeys(prefix)).filter(
        (key) => after === undefined || compareKeys(key, after) > 0,
      );
      const limit = options.limit ?? keys.length;
      for (const key of keys) {
        if (infos.length >= limit) break;
        const info = await this.head(key);
        if (info !== null) infos.push(info);
      }
      return infos;
    } catch (err) {
      throw storeError('list', prefix, err);
    }
  }

  async copy(from: string, to: string): Promise<ObjectInfo> {
    checkObjectKey(to);
    const got = await this.get(from);
    if (got === null) throw new WorkcellError('not_found', `object ${from} not found`);
    return this.put(to, got.body, { contentLength: got.info.size });
  }

  async delete(key: string): Promise<void> {
    const dir = this.dirOf(key);
    try {
      await unlink(join(dir, OBJECT_FILE));
    } catch (err) {
      if (isErrno(err, 'ENOENT', 'ENOTDIR')) return;
      throw storeError('delete', key, err);
    }
    await this.pruneEmptyDirs(dir);
  }

  /** Removes `dir` and its ancestors below the root while they are empty. */
  private async pruneEmptyDirs(dir: string): Promise<void> {
    let current = dir;
    while (current.startsWith(this.root + sep) && current !== this.root) {
      try {
        await rmdir(current);
      } catch (err) {
        if (!isErrno(err, 'ENOTEMPTY', 'EEXIST', 'ENOENT')) {
          this.logger?.warn(
            { err, dir: current },
            'object store: could not remove empty directory',
          );
        }
        return;
      }
      current = current.slice(0, current.lastIndexOf(sep));
    }
  }

  async deleteMany(keys: readonly string[]): Promise<void> {
    for (const key of keys) checkObjectKey(key);
    for (const key of keys) await this.delete(key);
  }

  async deletePrefix(prefix: string): Promise<number> {
    const keys = await this.listKeys(prefix).catch((err: unknown) => {
      throw storeError('list', prefix, err);
    });
    await this.deleteMany(keys);
    return keys.length;
  }

  async ping(): Promise<void> {
    await mkdir(this.root, { recursive: true });
    await access(this.root, fsc.R_OK | fsc.W_OK);
  }

  async close(): Promise<void> {
    // Nothing is held open between calls.
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
