import type { Readable } from 'node:stream';
import { WorkcellError } from '@workcell/protocol';
import type { Logger } from 'pino';
import { LEASES, leaseHolder, withLease } from '../state/leases.js';
import type { StateStore } from '../state/state-store.js';
import type { Clock } from '../time/clock.js';
import type { GetRange, ObjectStore } from '../storage/object-store.js';
import { tenantBlobs } from '../sync/content.js';
import * as layout from '../storage/layout.js';
import {
  deleteWorkspaceFile,
  getWorkspaceFile,
  listWorkspaceFiles,
  putWorkspaceFile,
} from '../sync/workspace-files.js';
import type { FileEntry, FilesService } from './files-service.js';

const FILE_LEASE_TTL_MS = 120_000;

/**
 * Runs `work` holding the workspace's run lease as the files API's writes do, so it never
 * interleaves with a run's sync; a workspace whose lease is held answers `workspace_busy`.
 */
export async function withWriteLease<T>(
  state: StateStore,
  settings: { hostId: string; clock: Clock; logger: Logger },
  workspaceId: string,
  work: () => Promise<T>,
): Promise<T> {
  const { hostId, clock, logger } = settings;
  const done = await withLease(
    { state, clock, logger },
    {
      name: LEASES.workspace(workspaceId),
      holder: leaseHolder('files', hostId),
      ttlMs: FILE_LEASE_TTL_MS,
    },
    work,
  );
  if (!done.held) {
    throw new WorkcellError(
      'workspace_busy',
      'a run is in progress in this workspace; retry when it ends',
    );
  }
  return done.value;
}

/**
 * The files API over the object store and the workspace manifest (`sync/workspace-files.ts`).
 * Listing reads the manifest (never the store's listing, so internals never show); writes take
 * the workspace's run lease, so they never interleave with a run's sync, and then bring the
 * workspace's assigned container up to date.
 */
export class StoreFilesService implements FilesService {
  constructor(
    private readonly store: ObjectStore,
    private readonly state: StateStore,
    private readonly settings: {
      maxFileBytes: number;
      /** This host, in the holder id of the run lease a write takes. */
      hostId: string;
      clock: Clock;
      logger: Logger;
      /**
       * Called after a change is stored, still under the workspace's lease: brings the
       * workspace's assigned container (if any) up to date, so the API and the container agree
       * and a later sync out never takes the change for a deletion.
       */
      afterChange?: (tenant: string, workspaceId: string) => Promise<void>;
    },
  ) {}

  private location(tenant: string, workspaceId: string) {
    return {
      store: this.store,
      filesPrefix: layout.workspaceFilesPrefix(tenant, workspaceId),
      manifestKey: layout.workspaceManifestKey(tenant, workspaceId),
      blobs: tenantBlobs(tenant),
    };
  }

  async list(tenant: string, workspaceId: string, prefix?: string): Promise<FileEntry[]> {
    const files = await listWorkspaceFiles(
      this.store,
      layout.workspaceManifestKey(tenant, workspaceId),
    );
    return prefix ? files.filter((f) => f.path.startsWith(prefix)) : files;
  }

  async get(
    tenant: string,
    workspaceId: string,
    path: string,
    range?: GetRange,
  ): Promise<{ body: Readable } | null> {
    return getWorkspaceFile({
      ...this.location(tenant, workspaceId),
      path,
      ...(range ? { range } : {}),
    });
  }

  async put(tenant: string, workspaceId: string, path: string, body: Readable): Promise<FileEntry> {
    return this.withLease(workspaceId, async () => {
      const stored = await putWorkspaceFile({
        ...this.location(tenant, workspaceId),
        path,
        body,
        maxFileBytes: this.settings.maxFileBytes,
      });
      await this.settings.afterChange?.(tenant, workspaceId);
      return { ...stored, modifiedAt: new Date(this.settings.clock.now()).toISOString() };
    });
  }

  async delete(tenant: string, workspaceId: string, path: string): Promise<boolean> {
    return this.withLease(workspaceId, async () => {
      const deleted = await deleteWorkspaceFile({ ...this.location(tenant, workspaceId), path });
      if (deleted) await this.settings.afterChange?.(tenant, workspaceId);
      return deleted;
    });
  }

  private withLease<T>(workspaceId: string, work: () => Promise<T>): Promise<T> {
    return withWriteLease(this.state, this.settings, workspaceId, work);
  }
}
