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

/** The object-store settings of a configuration (`WORKCELL_S3_*`, field names of the config schema). */
export interface S3Config {
  s3Bucket?: string | undefined;
  s3Endpoint?: string | undefined;
  s3Prefix: string;
  s3Region?: string | undefined;
  s3AccessKey?: string | undefined;
  s3SecretKey?: string | undefined;
  /** `AWS_REGION`: the region when `s3Region` is unset. */
  awsRegion: string;
}

/**
 * The S3 store's settings: its own region and keys when configured, so the object store (MinIO
 * in Compose) and Bedrock never share a credential; without keys the AWS SDK's default chain
 * applies. Undefined when no bucket is configured (the directory store).
 */
export function s3SettingsFrom(config: S3Config): ObjectStoreSettings['s3'] {
  if (!config.s3Bucket) return undefined;
  return {
    bucket: config.s3Bucket,
    endpoint: config.s3Endpoint,
    prefix: config.s3Prefix,
    region: config.s3Region ?? config.awsRegion,
    ...(config.s3AccessKey && config.s3SecretKey
      ? {
          credentials: {
            accessKeyId: config.s3AccessKey,
            secretAccessKey: config.s3SecretKey,
          },
        }
      : {}),
  };
}

/** The configured ObjectStore: S3 when a bucket is set, else the directory under the data dir. */
export function createObjectStore(settings: ObjectStoreSettings): ObjectStore {
  if (settings.s3 !== undefined) return new S3ObjectStore(settings.s3);
  return DirectoryObjectStore.forDataDir(
    settings.dataDir,
    settings.logger?.child({ component: 'object-store' }),
  );
}
