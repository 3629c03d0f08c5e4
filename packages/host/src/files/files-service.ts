import type { Readable } from 'node:stream';
import type { GetRange } from '../storage/object-store.js';

/** One workspace file as the API shows it. */
export interface FileEntry {
  path: string;
  size: number;
  sha256: string;
  modifiedAt: string;
}

/**
 * The files API's view of a workspace's files in the object store. Paths are checked by the
 * one workspace-path rule; writes take the workspace's run lease so they never interleave
 * with a run's sync.
 */
export interface FilesService {
  list(tenant: string, workspaceId: string, prefix?: string): Promise<FileEntry[]>;
  put(tenant: string, workspaceId: string, path: string, body: Readable): Promise<FileEntry>;
  get(
    tenant: string,
    workspaceId: string,
    path: string,
    range?: GetRange,
  ): Promise<{ body: Readable } | null>;
  delete(tenant: string, workspaceId: string, path: string): Promise<boolean>;
}
