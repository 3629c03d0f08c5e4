import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { WorkcellError, type ArchiveFormat, type ArchiveUpload } from '@workcell/protocol';
import type { Logger } from 'pino';
import * as layout from '../storage/layout.js';
import type { ObjectStore } from '../storage/object-store.js';
import { checkWorkspacePath } from '../storage/workspace-path.js';
import {
  isContentAddressed,
  migrateToBlobs,
  objectKeyOf,
  storeBlob,
  tenantBlobs,
} from '../sync/content.js';
import { TooLargeError } from '../sync/hashing.js';
import { Semaphore } from '../sync/limit.js';
import { EXEC_MODE, readManifest, writeManifest, type Manifest } from '../sync/manifest.js';
import type { Clock } from '../time/clock.js';
import { checkEntryKind, entryTarget, UnpackPlan } from './entry-rules.js';
import { declaredKind, SNIFF_BYTES, uploadKind, type UploadKind } from './format.js';
import { chunksOf, readArchive, type ArchiveEntry } from './read-archive.js';
import { packFiles, type PackedFile } from './write-archive.js';

/** Limits on one upload (each a setting). */
export interface ArchiveLimits {
  /** The request body, as sent. */
  maxBytes: number;
  /** Everything the archive unpacks to. */
  maxUnpackedBytes: number;
  maxEntries: number;
  /** Unpacked bytes per archive byte, checked once past RATIO_FLOOR_BYTES. */
  maxRatio: number;
  /** One file (the files API's limit). */
  maxFileBytes: number;
  /** Uploads this host unpacks at once: each holds up to `maxBytes` of staging disk. */
  maxConcurrent: number;
}

/** Below this many unpacked bytes the ratio is not checked: small text archives compress well. */
export const RATIO_FLOOR_BYTES = 1024 * 1024;

export interface ArchiveServiceSettings {
  limits: ArchiveLimits;
  /**
   * A local directory of this host's alone for uploads while they are checked: each upload's
   * file is removed after it, and `clearStaging` empties it at start (after a crash).
   */
  stagingDir: string;
  clock: Clock;
  logger: Logger;
  /**
   * Runs `work` holding the workspace's run lease (the files API's busy rule): refused
   * `workspace_busy` when a run holds it.
   */
  withLease<T>(workspaceId: string, work: () => Promise<T>): Promise<T>;
  /** Called after files are stored, still under the lease: brings an idle container up to date. */
  afterChange?: (tenant: string, workspaceId: string) => Promise<void>;
}

/** The folder `?path=` names ('' for the whole workspace); hostile values are `invalid_path`. */
export function archiveFolder(path: string | undefined): string {
  return path === undefined || path === '' ? '' : checkWorkspacePath(path);
}

/**
 * A workspace's files as one archive, both ways, over the object store and the workspace
 * manifest (the files API's view: regular files only).
 *
 * Download reads the manifest once and streams file after file from the store, so memory does
 * not grow with the workspace. Upload spools the body to a local file, then reads the archive
 * twice: first to check every entry (paths, kinds, duplicates, clashes with the workspace,
 * sizes, count, ratio) while writing nothing, then to store the files and write the manifest
 * once. A refused archive therefore leaves the workspace exactly as it was.
 */
export class ArchiveService {
  private uploading = 0;

  constructor(
    private readonly store: ObjectStore,
    private readonly settings: ArchiveServiceSettings,
  ) {}

  /** Removes what uploads cut short by a crash left in the staging directory. */
  async clearStaging(): Promise<void> {
    await rm(this.settings.stagingDir, { recursive: true, force: true });
  }

  /**
   * The files under `folder` (all when '') as a `format` stream, named relative to the folder.
   * `not_found` when a folder is named and holds no file.
   */
  async download(
    tenant: string,
    workspaceId: string,
    folder: string,
    format: ArchiveFormat,
  ): Promise<Readable> {
    const manifest = await readManifest(
      this.store,
      layout.workspaceManifestKey(tenant, workspaceId),
    );
    const prefix = folder === '' ? '' : `${folder}/`;
    const paths = Object.keys(manifest.files)
      .filter((path) => path.startsWith(prefix))
      .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    if (folder !== '' && paths.length === 0)
      throw new WorkcellError('not_found', `no file under ${folder}`);
    const filesPrefix = layout.workspaceFilesPrefix(tenant, workspaceId);
    const blobs = tenantBlobs(tenant);
    const store = this.store;
    const files = function* (): Generator<PackedFile> {
      for (const path of paths) {
        const entry = manifest.files[path];
        if (entry === undefined) continue;
        yield {
          name: path.slice(prefix.length),
          executable: entry.mode === EXEC_MODE,
          mtimeMs: entry.mtimeMs,
          async open() {
            const got = await store.get(objectKeyOf(manifest, filesPrefix, path, entry, blobs));
            return got === null ? null : { size: got.info.size, body: got.body };
          },
        };
      }
    };
    const log = this.settings.logger;
    return packFiles(format, files(), (err) =>
      log.warn({ err, workspaceId, format }, 'archive download failed mid-stream'),
    );
  }

  /**
   * Unpacks the archive in `body` into `folder` of the workspace, replacing files of the same
   * path, under the workspace's run lease. Everything is checked before anything is written.
   */
  async upload(
    tenant: string,
    workspaceId: string,
    folder: string,
    body: Readable,
    contentType: string | undefined,
  ): Promise<ArchiveUpload> {
    const declared = declaredKind(contentType);
    const { maxConcurrent } = this.settings.limits;
    if (this.uploading >= maxConcurrent) {
      throw new WorkcellError(
        'host_at_capacity',
        `this host is unpacking its maximum of ${maxConcurrent} archives; retry in 1 s (WORKCELL_ARCHIVE_MAX_UPLOADS)`,
        { retryAfterSeconds: 1 },
      );
    }
    this.uploading += 1;
    try {
      return await this.unpack(tenant, workspaceId, folder, body, declared);
    } finally {
      this.uploading -= 1;
    }
  }

  private unpack(
    tenant: string,
    workspaceId: string,
    folder: string,
    body: Readable,
    declared: UploadKind | null,
  ): Promise<ArchiveUpload> {
    return this.settings.withLease(workspaceId, async () => {
      await mkdir(this.settings.stagingDir, { recursive: true, mode: 0o700 });
      const staged = join(this.settings.stagingDir, `upload-${randomUUID()}`);
      try {
        const size = await this.spool(body, staged);
        const kind = uploadKind(declared, await headOf(staged));
        const manifestKey = layout.workspaceManifestKey(tenant, workspaceId);
        const manifest = await readManifest(this.store, manifestKey);
        await this.check(staged, kind, size, folder, manifest);
        const written = await this.commit(tenant, workspaceId, staged, kind, folder, manifest);
        await this.settings.afterChange?.(tenant, workspaceId);
        this.settings.logger.info(
          { workspaceId, kind, folder, files: written.files, bytes: written.bytes },
          'archive unpacked',
        );
        return { path: folder, ...written };
      } finally {
        await rm(staged, { force: true });
      }
    });
  }

  /** Writes the body to `file`, refusing `payload_too_large` past the body limit. */
  private async spool(body: Readable, file: string): Promise<number> {
    const { maxBytes } = this.settings.limits;
    let bytes = 0;
    const limit = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        bytes += chunk.length;
        if (bytes > maxBytes) callback(new TooLargeError(maxBytes));
        else callback(null, chunk);
      },
    });
    try {
      await pipeline(body, limit, createWriteStream(file, { mode: 0o600 }));
    } catch (err) {
      if (err instanceof TooLargeError) {
        throw new WorkcellError(
          'payload_too_large',
          `archives are limited to ${maxBytes} bytes (WORKCELL_ARCHIVE_MAX_BYTES)`,
        );
      }
      throw err;
    }
    return bytes;
  }

  /** The first pass: reads the whole archive, checking every rule; writes nothing. */
  private async check(
    file: string,
    kind: UploadKind,
    archiveBytes: number,
    folder: string,
    manifest: Manifest,
  ): Promise<void> {
    const { maxUnpackedBytes, maxEntries, maxRatio, maxFileBytes } = this.settings.limits;
    const plan = new UnpackPlan(
      new Set([...Object.keys(manifest.files), ...Object.keys(manifest.links ?? {})]),
    );
    let entries = 0;
    let unpacked = 0;
    for await (const entry of readArchive(file, kind)) {
      entries += 1;
      if (entries > maxEntries) {
        throw tooLarge(
          `the archive holds more than ${maxEntries} entries (WORKCELL_ARCHIVE_MAX_ENTRIES)`,
        );
      }
      checkEntryKind(entry.name, entry.kind, entry.type);
      const target = entryTarget(entry.name, entry.kind, folder);
      if (target === null) continue;
      if (entry.kind === 'directory') {
        plan.addDirectory(target);
        continue;
      }
      plan.addFile(target);
      let size = 0;
      for await (const chunk of chunksOf(entry.body)) {
        size += chunk.length;
        unpacked += chunk.length;
        if (size > maxFileBytes) {
          throw tooLarge(
            `${target} is larger than ${maxFileBytes} bytes (WORKCELL_MAX_FILE_BYTES)`,
          );
        }
        if (unpacked > maxUnpackedBytes) {
          throw tooLarge(
            `the archive unpacks to more than ${maxUnpackedBytes} bytes (WORKCELL_ARCHIVE_MAX_UNPACKED_BYTES)`,
          );
        }
        if (unpacked > RATIO_FLOOR_BYTES && unpacked > archiveBytes * maxRatio) {
          throw tooLarge(
            `the archive unpacks to more than ${maxRatio} times its size (WORKCELL_ARCHIVE_MAX_RATIO)`,
          );
        }
      }
    }
  }

  /**
   * The second pass: stores every file, then writes the manifest once. A file up to
   * SMALL_FILE_BYTES is read into memory and stored straight to its blob, up to STORE_CONCURRENCY
   * at once, while the archive is read on; a larger one streams through a staging object. A
   * store failure part-way still records the files already stored, so the manifest and the store
   * agree.
   */
  private async commit(
    tenant: string,
    workspaceId: string,
    file: string,
    kind: UploadKind,
    folder: string,
    stored: Manifest,
  ): Promise<{ files: number; bytes: number }> {
    const filesPrefix = layout.workspaceFilesPrefix(tenant, workspaceId);
    const manifestKey = layout.workspaceManifestKey(tenant, workspaceId);
    const blobs = tenantBlobs(tenant);
    const manifest = await migrateToBlobs(this.store, blobs, filesPrefix, stored);
    const now = this.settings.clock.now();
    const maxFileBytes = this.settings.limits.maxFileBytes;
    const puts = new Semaphore(STORE_CONCURRENCY);
    const inFlight = new Set<Promise<void>>();
    let failure: { error: unknown } | undefined;
    let files = 0;
    let bytes = 0;
    const record = (
      target: string,
      entry: ArchiveEntry,
      put: { size: number; sha256: string },
    ): void => {
      // The archive's time when it is a sane one; a future or missing time becomes now.
      const { mtimeMs } = entry;
      const sane = mtimeMs !== null && mtimeMs >= 0 && mtimeMs <= now;
      manifest.files[target] = {
        size: put.size,
        sha256: put.sha256,
        mtimeMs: Math.trunc(sane ? mtimeMs : now),
        ...(entry.executable ? { mode: EXEC_MODE } : {}),
      };
      if (manifest.links !== undefined) delete manifest.links[target];
      files += 1;
      bytes += put.size;
    };
    try {
      for await (const entry of readArchive(file, kind)) {
        if (failure !== undefined) break;
        if (entry.kind !== 'file') continue;
        const target = entryTarget(entry.name, entry.kind, folder);
        if (target === null) continue;
        const { small, rest } = await readSmall(entry.body);
        if (small === null) {
          record(target, entry, await storeBlob(this.store, blobs, rest, maxFileBytes));
          continue;
        }
        // Waits for a slot here, so no more than STORE_CONCURRENCY files sit in memory.
        let started!: () => void;
        const slot = new Promise<void>((resolve) => (started = resolve));
        const put = puts
          .run(async () => {
            started();
            record(target, entry, await storeBlob(this.store, blobs, small, maxFileBytes));
          })
          .catch((error: unknown) => {
            failure ??= { error };
          })
          .finally(() => inFlight.delete(put));
        inFlight.add(put);
        await slot;
      }
    } finally {
      await Promise.all(inFlight);
      await writeManifest(this.store, manifestKey, manifest);
    }
    if (failure !== undefined) throw failure.error;
    if (!isContentAddressed(stored)) await this.store.deletePrefix(filesPrefix);
    return { files, bytes };
  }
}

/** Files up to this size are read into memory and stored without a staging object. */
const SMALL_FILE_BYTES = 1024 * 1024;
/** Small files stored at once by one upload. */
const STORE_CONCURRENCY = 16;

/**
 * Reads `body` whole when it ends within SMALL_FILE_BYTES (`small`); otherwise `rest` gives
 * every byte, the ones read already first.
 */
async function readSmall(body: Readable): Promise<{ small: Buffer | null; rest: Readable }> {
  const chunks: Buffer[] = [];
  let size = 0;
  const iterator = chunksOf(body)[Symbol.asyncIterator]();
  for (;;) {
    const next = await iterator.next();
    if (next.done === true) {
      const small = Buffer.concat(chunks, size);
      return { small, rest: Readable.from([small]) };
    }
    chunks.push(next.value);
    size += next.value.length;
    if (size > SMALL_FILE_BYTES) {
      const read = chunks;
      const remaining = async function* (): AsyncGenerator<Buffer> {
        yield* read;
        for (;;) {
          const more = await iterator.next();
          if (more.done === true) return;
          yield more.value;
        }
      };
      return { small: null, rest: Readable.from(remaining()) };
    }
  }
}

function tooLarge(message: string): WorkcellError {
  return new WorkcellError('archive_too_large', message);
}

async function headOf(file: string): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(SNIFF_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, SNIFF_BYTES, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}
