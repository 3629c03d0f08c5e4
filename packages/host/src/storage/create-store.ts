import type { Logger } from 'pino';
import { DirectoryObjectStore } from './directory-store.js';
import type { ObjectStore } from './object-store.js';
import { S3ObjectStore } from './s3-store.js';
import type { S3ObjectStoreOptions } from './s3-store.js';

export interface ObjectStoreSettings {
  /** `WORKCELL_DATA_DIR`: the directory store lives in `<dataDir>/objects`. */
  dataDir: string;
  /** Set (with `WORKCELL_S3_BUCKET`) to use S3 instead of the directory. */
  s3?:
    | Pick<S3ObjectStoreOptions, 'bucket' | 'endpoint' | 'prefix' | 'region' | 'credentials'>
    | undefined;
  /** For the directory store's warnings. */
  logger?: Logger;
}

/** The configured ObjectStore: S3 when a bucket is set, else the directory under the data dir. */
export function createObjectStore(settings: ObjectStoreSettings): ObjectStore {
  if (settings.s3 !== undefined) return new S3ObjectStore(settings.s3);
  return DirectoryObjectStore.forDataDir(
    settings.dataDir,
    settings.logger?.child({ component: 'object-store' }),
  );
}
