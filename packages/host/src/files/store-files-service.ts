import { createHash, randomBytes } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import { WorkcellError } from '@workcell/protocol';
import { runLeaseName } from '../execute/execute-service.js';
import type { StateStore } from '../state/state-store.js';
import type { GetRange, ObjectStore } from '../storage/object-store.js';
import * as layout from '../storage/layout.js';
import { readManifest, writeManifest, type Manifest } from '../sync/manifest.js';
import { checkWorkspacePath } from '../sync/workspace-path.js';
import type { FileEntry, FilesService } from './files-service.js';

const FILE_LEASE_TTL_MS = 120_000;

/** Counts and hashes bytes on their way to the store, failing past `limit`. */
class HashingLimit extends Transform {
  readonly hash = createHash('sha256');
  size = 0;
  constructor(private readonly limit: number) {
    super();
  }
  override _transform(
    chunk: Buffer,
    _enc: BufferEncoding,
    done: (err?: Error | null, data?: Buffer) => void,
  ): void {
    this.size += chunk.length;
    if (this.size > this.limit) {
      done(new WorkcellError('payload_too_large', `files are limited to ${this.limit} bytes`));
      return;
    }
    this.hash.update(chunk);
    done(null, chunk);
  }
}

/**
 * The files API over the object store and the workspace manifest. Listing reads the manifest
 * (never the store's listing, so internals never show); writes take the workspace's run lease,
 * so they never interleave with a run's sync, and update the manifest after the bytes.
 */
export class StoreFilesService implements FilesService {
  constructor(
    private readonly store: ObjectStore,
    private readonly state: StateStore,
    private readonly settings: {
      maxFileBytes: number;
      /**
       * Called after a change is stored, still under the workspace's lease: brings the
       * workspace's assigned container (if any) up to date, so the API and the container agree
       * and a later sync out never takes the change for a deletion.
       */
      afterChange?: (tenant: string, workspaceId: string) => Promise<void>;
    },
  ) {}

  async list(tenant: string, workspaceId: string, prefix?: string): Promise<FileEntry[]> {
    const manifest = await readManifest(
      this.store,
      layout.workspaceManifestKey(tenant, workspaceId),
    );
    return Object.entries(manifest.files)
      .filter(([path]) => !prefix || path.startsWith(prefix))
      .map(([path, f]) => ({
        path,
        size: f.size,
        sha256: f.sha256,
        modifiedAt: new Date(f.mtimeMs).toISOString(),
      }));
  }

  async get(
    tenant: string,
    workspaceId: string,
    path: string,
    range?: GetRange,
  ): Promise<{ entry: FileEntry; body: Readable; start: number; end: number } | null> {
    const checked = checkWorkspacePath(path);
    const entry = (await this.list(tenant, workspaceId)).find((f) => f.path === checked);
    if (!entry) return null;
    const got = await this.store.get(layout.workspaceFileKey(tenant, workspaceId, checked), range);
    if (!got) return null;
    return {
      entry,
      body: got.body,
      start: range?.start ?? 0,
      end: range?.end ?? Math.max(0, entry.size - 1),
    };
  }

  async put(
    tenant: string,
    workspaceId: string,
    path: string,
    body: Readable,
    contentLength?: number,
  ): Promise<FileEntry> {
    const checked = checkWorkspacePath(path);
    return this.withLease(workspaceId, async () => {
      const counter = new HashingLimit(this.settings.maxFileBytes);
      body.on('error', (err) => counter.destroy(err));
      const piped = body.pipe(counter);
      await this.store.put(layout.workspaceFileKey(tenant, workspaceId, checked), piped, {
        ...(contentLength !== undefined ? { contentLength } : {}),
      });
      const entry = { size: counter.size, sha256: counter.hash.digest('hex'), mtimeMs: Date.now() };
      await this.updateManifest(tenant, workspaceId, (m) => {
        m.files[checked] = entry;
        if (m.links) delete m.links[checked];
      });
      await this.settings.afterChange?.(tenant, workspaceId);
      return {
        path: checked,
        size: entry.size,
        sha256: entry.sha256,
        modifiedAt: new Date(entry.mtimeMs).toISOString(),
      };
    });
  }

  async delete(tenant: string, workspaceId: string, path: string): Promise<boolean> {
    const checked = checkWorkspacePath(path);
    return this.withLease(workspaceId, async () => {
      const manifest = await readManifest(
        this.store,
        layout.workspaceManifestKey(tenant, workspaceId),
      );
      if (!manifest.files[checked]) return false;
      await this.updateManifest(tenant, workspaceId, (m) => {
        delete m.files[checked];
      });
      await this.store.delete(layout.workspaceFileKey(tenant, workspaceId, checked));
      await this.settings.afterChange?.(tenant, workspaceId);
      return true;
    });
  }

  private async updateManifest(
    tenant: string,
    workspaceId: string,
    change: (m: Manifest) => void,
  ): Promise<void> {
    const key = layout.workspaceManifestKey(tenant, workspaceId);
    const manifest = await readManifest(this.store, key);
    change(manifest);
    await writeManifest(this.store, key, manifest);
  }

  private async withLease<T>(workspaceId: string, work: () => Promise<T>): Promise<T> {
    const lease = runLeaseName(workspaceId);
    const holder = `files:${randomBytes(8).toString('hex')}`;
    if (!(await this.state.acquireLease(lease, holder, FILE_LEASE_TTL_MS))) {
      throw new WorkcellError(
        'workspace_busy',
        'a run is in progress in this workspace; retry when it ends',
      );
    }
    try {
      return await work();
    } finally {
      await this.state.releaseLease(lease, holder).catch(() => false);
    }
  }
}
