export {
  checkWorkspacePath,
  workspacePathProblem,
  MAX_PATH_BYTES,
  MAX_SEGMENT_BYTES,
  RESERVED_NAME_PREFIX,
} from '../storage/workspace-path.js';
export {
  syncIn,
  syncOut,
  type SyncInOptions,
  type SyncInResult,
  type SyncOutOptions,
  type SyncOutResult,
  type SkippedEntry,
  type SkipReason,
} from './file-sync.js';
export {
  emptyManifest,
  readManifest,
  writeManifest,
  manifestSchema,
  type Manifest,
  type ManifestFile,
  type ManifestLink,
} from './manifest.js';
export {
  listWorkspaceFiles,
  getWorkspaceFile,
  putWorkspaceFile,
  deleteWorkspaceFile,
  type WorkspaceFileInfo,
} from './workspace-files.js';
export type { Owner } from './safe-fs.js';
