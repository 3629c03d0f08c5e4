import {
  CopyObjectCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import type { S3ClientConfig } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { pipeline, Readable, Transform } from 'node:stream';
import { WorkcellError } from '@workcell/protocol';
import { checkObjectKey, checkObjectPrefix, compareKeys } from './object-key.js';
import type { GetRange, ListOptions, ObjectInfo, ObjectStore, PutOptions } from './object-store.js';
import { checkRange } from './range.js';
import { storeError } from './store-error.js';

/** S3's limit on the keys in one DeleteObjects request. */
const DELETE_BATCH = 1000;

export interface S3ObjectStoreOptions {
  bucket: string;
  /** Prepended to every key and stripped from listed keys (`WORKCELL_S3_PREFIX`); `/` is added. */
  prefix?: string;
  /** An S3-compatible endpoint (`WORKCELL_S3_ENDPOINT`); unset means AWS S3. */
  endpoint?: string;
  /** Defaults to the SDK's chain (`AWS_REGION`, profile), or `us-east-1` with a custom endpoint. */
  region?: string;
  /** Path-style URLs (`endpoint/bucket/key`); defaults to true when `endpoint` is set. */
  forcePathStyle?: boolean;
  /** Defaults to the AWS SDK's default credential chain. */
  credentials?: S3ClientConfig['credentials'];
  /** Attempts per request, with the SDK's adaptive backoff on throttling and 5xx. */
  maxAttempts?: number;
  /** Part size of multipart uploads of streamed bodies. */
  partSizeBytes?: number;
  /** Parts of one streamed body uploaded at once (memory held: partSize x queueSize). */
  partQueueSize?: number;
  /**
   * Called once per S3 operation sent (retries of one operation count once), with the operation
   * (`PutObject`, `UploadPart`, `ListObjectsV2`, ...) and the store-relative key when it has one.
   * Tests and benchmarks count requests with it.
   */
  onRequest?: (op: string, key?: string) => void;
}

interface S3ErrorLike {
  name?: string;
  $metadata?: { httpStatusCode?: number };
}

function statusOf(err: unknown): number | undefined {
  return (err as S3ErrorLike | null)?.$metadata?.httpStatusCode;
}

function isNotFound(err: unknown): boolean {
  const name = (err as S3ErrorLike | null)?.name;
  return name === 'NoSuchKey' || name === 'NotFound' || statusOf(err) === 404;
}

function cleanEtag(etag: string | undefined): string {
  return (etag ?? '').replace(/^"|"$/g, '');
}

/** The total size from `Content-Range: bytes a-b/total`. */
function totalFromContentRange(contentRange: string | undefined): number | undefined {
  const match = /\/(\d+)$/.exec(contentRange ?? '');
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

/**
 * The first `length` bytes of `source`. Some S3-compatible stores answer a range that ends at
 * byte 0 (`bytes=0-0`) with more than was asked; the reader still gets only the range.
 */
function truncated(source: Readable, length: number): Readable {
  let remaining = length;
  const out = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      const part = chunk.subarray(0, remaining);
      remaining -= part.length;
      callback(null, part.length > 0 ? part : undefined);
      if (remaining === 0) {
        this.push(null);
        source.unpipe(this);
        source.destroy();
      }
    },
  });
  // A reader that has not started yet still gets the error, from reading the errored stream.
  out.on('error', () => undefined);
  source.on('error', (err) => out.destroy(err));
  return source.pipe(out);
}

function normalisePrefix(prefix: string | undefined): string {
  if (prefix === undefined || prefix === '') return '';
  const withSlash = prefix.endsWith('/') ? prefix : `${prefix}/`;
  checkObjectKey(withSlash.slice(0, -1));
  return withSlash;
}

/**
 * The ObjectStore on S3 or any S3-compatible endpoint, through the AWS SDK v3. Buffers go up in
 * one PutObject; streams through lib-storage's Upload (multipart above one part). Credentials
 * come from the SDK's default chain unless given.
 */
export class S3ObjectStore implements ObjectStore {
  readonly description: string;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly partSize: number;
  private readonly queueSize: number;

  constructor(options: S3ObjectStoreOptions) {
    this.bucket = options.bucket;
    this.prefix = normalisePrefix(options.prefix);
    this.partSize = options.partSizeBytes ?? 8 * 1024 * 1024;
    this.queueSize = options.partQueueSize ?? 4;
    this.description = `s3://${options.bucket}/${this.prefix}`;
    const region = options.region ?? (options.endpoint !== undefined ? 'us-east-1' : undefined);
    this.client = new S3Client({
      ...(options.endpoint !== undefined ? { endpoint: options.endpoint } : {}),
      ...(region !== undefined ? { region } : {}),
      ...(options.credentials !== undefined ? { credentials: options.credentials } : {}),
      forcePathStyle: options.forcePathStyle ?? options.endpoint !== undefined,
      maxAttempts: options.maxAttempts ?? 5,
      retryMode: 'adaptive',
      // Checksums only where S3 requires them: S3-compatible stores differ in what they accept.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    const onRequest = options.onRequest;
    if (onRequest !== undefined) {
      const stripPrefix = (key: unknown): string | undefined =>
        typeof key === 'string' ? key.slice(this.prefix.length) : undefined;
      this.client.middlewareStack.add(
        (next, context) => async (args) => {
          const op = (context.commandName ?? 'unknown').replace(/Command$/, '');
          onRequest(op, stripPrefix((args.input as { Key?: unknown }).Key));
          return next(args);
        },
        { step: 'initialize', name: 'workcellRequestCounter' },
      );
    }
  }

  private fullKey(key: string): string {
    return this.prefix + checkObjectKey(key);
  }

  async put(
    key: string,
    body: Buffer | string | Readable,
    options?: PutOptions,
  ): Promise<ObjectInfo> {
    const Key = this.fullKey(key);
    const ContentType = options?.contentType;
    try {
      if (typeof body === 'string' || Buffer.isBuffer(body)) {
        const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
        const out = await this.client.send(
          new PutObjectCommand({
            Bucket: this.bucket,
            Key,
            Body: bytes,
            ContentLength: bytes.length,
            ContentType,
          }),
        );
        return { key, size: bytes.length, etag: cleanEtag(out.ETag), modifiedAt: new Date() };
      }
      let size = 0;
      const counter = new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          size += chunk.length;
          callback(null, chunk);
        },
      });
      pipeline(body, counter, () => undefined);
      const upload = new Upload({
        client: this.client,
        params: { Bucket: this.bucket, Key, Body: counter, ContentType },
        partSize: this.partSize,
        queueSize: this.queueSize,
        leavePartsOnError: false,
      });
      const out = await upload.done();
      if (options?.contentLength !== undefined && options.contentLength !== size) {
        throw new WorkcellError(
          'bad_request',
          `body of ${key} had ${size} bytes, ${options.contentLength} announced`,
        );
      }
      return { key, size, etag: cleanEtag(out.ETag), modifiedAt: new Date() };
    } catch (err) {
      throw storeError('put', key, err);
    }
  }

  async get(key: string, range?: GetRange): Promise<{ info: ObjectInfo; body: Readable } | null> {
    const Key = this.fullKey(key);
    if (range !== undefined) checkRange(key, range);
    try {
      const out = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key,
          ...(range !== undefined ? { Range: `bytes=${range.start}-${range.end ?? ''}` } : {}),
        }),
      );
      const size = totalFromContentRange(out.ContentRange) ?? out.ContentLength ?? 0;
      const info: ObjectInfo = {
        key,
        size,
        etag: cleanEtag(out.ETag),
        modifiedAt: out.LastModified ?? new Date(0),
      };
      // In Node the SDK's body is the HTTP response stream (an IncomingMessage).
      let body = out.Body instanceof Readable ? out.Body : Readable.from([]);
      if (range?.end !== undefined) {
        const wanted = Math.min(range.end, size - 1) - range.start + 1;
        if ((out.ContentLength ?? 0) > wanted) body = truncated(body, wanted);
      }
      return { info, body };
    } catch (err) {
      if (isNotFound(err)) return null;
      if (statusOf(err) === 416) {
        throw new WorkcellError(
          'bad_request',
          `range ${range?.start ?? 0}- is past the end of ${key}`,
        );
      }
      throw storeError('get', key, err);
    }
  }

  async getBuffer(key: string): Promise<Buffer | null> {
    const got = await this.get(key);
    if (got === null) return null;
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of got.body) chunks.push(chunk as Buffer);
    } catch (err) {
      throw storeError('get', key, err);
    }
    return Buffer.concat(chunks);
  }

  async head(key: string): Promise<ObjectInfo | null> {
    const Key = this.fullKey(key);
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key }));
      return {
        key,
        size: out.ContentLength ?? 0,
        etag: cleanEtag(out.ETag),
        modifiedAt: out.LastModified ?? new Date(0),
      };
    } catch (err) {
      if (isNotFound(err)) return null;
      throw storeError('head', key, err);
    }
  }

  /**
   * Pages of up to 1000 keys (S3's own), from `startAfter`, until `limit` keys are in. No
   * `MaxKeys` is sent: a page of 1000 costs S3 what a smaller one does.
   */
  async list(prefix: string, options: ListOptions = {}): Promise<ObjectInfo[]> {
    checkObjectPrefix(prefix);
    const infos: ObjectInfo[] = [];
    const limit = options.limit ?? Number.POSITIVE_INFINITY;
    let token: string | undefined;
    try {
      do {
        const out = await this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: this.prefix + prefix,
            ContinuationToken: token,
            ...(options.startAfter === undefined
              ? {}
              : { StartAfter: this.prefix + options.startAfter }),
          }),
        );
        for (const item of out.Contents ?? []) {
          if (item.Key === undefined) continue;
          infos.push({
            key: item.Key.slice(this.prefix.length),
            size: item.Size ?? 0,
            etag: cleanEtag(item.ETag),
            modifiedAt: item.LastModified ?? new Date(0),
          });
        }
        token = out.IsTruncated === true ? out.NextContinuationToken : undefined;
      } while (token !== undefined && infos.length < limit);
    } catch (err) {
      throw storeError('list', prefix, err);
    }
    // S3 lists in UTF-8 byte order; some compatible stores do not, so the order is made sure here.
    const after = options.startAfter;
    return infos
      .filter((info) => after === undefined || compareKeys(info.key, after) > 0)
      .sort((a, b) => compareKeys(a.key, b.key))
      .slice(0, limit);
  }

  async copy(from: string, to: string): Promise<ObjectInfo> {
    const source = this.fullKey(from);
    const Key = this.fullKey(to);
    try {
      const out = await this.client.send(
        new CopyObjectCommand({
          Bucket: this.bucket,
          Key,
          CopySource: `${this.bucket}/${source.split('/').map(encodeURIComponent).join('/')}`,
          MetadataDirective: 'COPY',
        }),
      );
      const info = await this.head(to);
      if (info === null) throw new Error('the copy is not there');
      return { ...info, etag: cleanEtag(out.CopyObjectResult?.ETag ?? info.etag) };
    } catch (err) {
      if (isNotFound(err)) throw new WorkcellError('not_found', `object ${from} not found`);
      throw storeError('copy', to, err);
    }
  }

  async delete(key: string): Promise<void> {
    const Key = this.fullKey(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key }));
    } catch (err) {
      if (isNotFound(err)) return;
      throw storeError('delete', key, err);
    }
  }

  async deleteMany(keys: readonly string[]): Promise<void> {
    const fullKeys = keys.map((key) => this.fullKey(key));
    for (let i = 0; i < fullKeys.length; i += DELETE_BATCH) {
      const batch = fullKeys.slice(i, i + DELETE_BATCH);
      let errors: { Key?: string; Code?: string; Message?: string }[];
      try {
        const out = await this.client.send(
          new DeleteObjectsCommand({
            Bucket: this.bucket,
            Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
          }),
        );
        errors = (out.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
      } catch (err) {
        throw storeError('deleteMany', batch[0] ?? '', err);
      }
      const first = errors[0];
      if (first !== undefined) {
        throw new WorkcellError(
          'dependency_unavailable',
          `object store deleteMany: ${errors.length} keys not deleted, first ${first.Key ?? '?'}: ${first.Code ?? ''} ${first.Message ?? ''}`,
          { dependency: 'objectStore' },
        );
      }
    }
  }

  async deletePrefix(prefix: string): Promise<number> {
    const keys = (await this.list(prefix)).map((info) => info.key);
    await this.deleteMany(keys);
    return keys.length;
  }

  async ping(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (err) {
      const reason = isNotFound(err)
        ? 'bucket not found'
        : err instanceof Error
          ? err.message
          : String(err);
      const wrapped = new WorkcellError(
        'dependency_unavailable',
        `${this.description}: ${reason}`,
        {
          dependency: 'objectStore',
        },
      );
      wrapped.cause = err;
      throw wrapped;
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}
