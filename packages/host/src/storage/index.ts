export type { ObjectStore, ObjectInfo, GetRange, ListOptions, PutOptions } from './object-store.js';
export { DirectoryObjectStore, type DirectoryObjectStoreOptions } from './directory-store.js';
export { S3ObjectStore, type S3ObjectStoreOptions } from './s3-store.js';
export { createObjectStore, type ObjectStoreSettings } from './create-store.js';
export { checkObjectKey, checkObjectPrefix, MAX_OBJECT_KEY_BYTES } from './object-key.js';
export {
  ID_PATTERN,
  isValidId,
  tenantRoot,
  workspaceRoot,
  workspaceMetaKey,
  workspaceFilesPrefix,
  workspaceFileKey,
  workspaceManifestKey,
  workspaceEgressKey,
  sessionsPrefix,
  sessionsManifestKey,
  conversationsPrefix,
  conversationRoot,
  conversationMetaKey,
  runsPrefix,
  runEventsKey,
  conversationIndexKey,
  workspaceIndexPrefix,
  workspaceIndexKey,
  conversationIdOfMetaKey,
  workspaceIdOfIndexKey,
  runIdOfEventsKey,
  type IdKind,
} from './layout.js';
