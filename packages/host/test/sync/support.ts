import { mkdir, readdir, utimes, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import type {
  GetRange,
  ListOptions,
  ObjectInfo,
  ObjectStore,
  PutOptions,
} from '../../src/storage/object-store.js';

/**
 * An ObjectStore that records every call made to the store it wraps (`op key`), and can be told
 * to fail a given call, to count requests and to interrupt syncs.
 */
export class RecordingStore implements ObjectStore {
  readonly log: string[] = [];
  /** Called before each operation; throwing from it fails the operation. */
  beforeOp: ((op: string, key: string) => void) | undefined;

  constructor(private readonly inner: ObjectStore) {}

  get description(): string {
    return this.inner.description;
  }

  private record(op: string, key: string): void {
    this.log.push(`${op} ${key}`);
    this.beforeOp?.(op, key);
  }

  /** The log since the last call, emptied. */
  take(): string[] {
    return this.log.splice(0, this.log.length);
  }

  put(key: string, body: Buffer | string | Readable, options?: PutOptions): Promise<ObjectInfo> {
    this.record('put', key);
    return this.inner.put(key, body, options);
  }
  get(key: string, range?: GetRange): Promise<{ info: ObjectInfo; body: Readable } | null> {
    this.record('get', key);
    return this.inner.get(key, range);
  }
  getBuffer(key: string): Promise<Buffer | null> {
    this.record('getBuffer', key);
    return this.inner.getBuffer(key);
  }
  head(key: string): Promise<ObjectInfo | null> {
    this.record('head', key);
    return this.inner.head(key);
  }
  list(prefix: string, options?: ListOptions): Promise<ObjectInfo[]> {
    this.record('list', prefix);
    return this.inner.list(prefix, options);
  }
  copy(from: string, to: string): Promise<ObjectInfo> {
    this.record('copy', `${from} -> ${to}`);
    return this.inner.copy(from, to);
  }
  delete(key: string): Promise<void> {
    this.record('delete', key);
    return this.inner.delete(key);
  }
  deleteMany(keys: readonly string[]): Promise<void> {
    this.record('deleteMany', [...keys].sort().join(','));
    return this.inner.deleteMany(keys);
  }
  deletePrefix(prefix: string): Promise<number> {
    this.record('deletePrefix', prefix);
    return this.inner.deletePrefix(prefix);
  }
  ping(): Promise<void> {
    return this.inner.ping();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/** Writes `files` (path -> content) under `dir`, creating directories. */
export async function writeTree(
  dir: string,
  files: Record<string, string | Buffer>,
): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
}

/** Sets every regular file's mtime an hour back, as for files written well before a sync. */
export async function age(dir: string, ms = 3_600_000): Promise<void> {
  const when = new Date(Date.now() - ms);
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) await utimes(join(entry.parentPath, entry.name), when, when);
  }
}

/** Every object's bytes under `prefix`, by key. */
export async function storedObjects(
  store: ObjectStore,
  prefix: string,
): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const info of await store.list(prefix)) {
    const buf = await store.getBuffer(info.key);
    if (buf !== null) out.set(info.key, buf);
  }
  return out;
}
