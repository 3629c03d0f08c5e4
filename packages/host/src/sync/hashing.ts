import { createHash } from 'node:crypto';
import type { Hash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { Transform } from 'node:stream';

/** Raised when a body grows past the size limit while it is read. */
export class TooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`larger than ${limit} bytes`);
    this.name = 'TooLargeError';
  }
}

/**
 * A pass-through that hashes (sha256) and counts what flows through it, failing with
 * TooLargeError once more than `maxBytes` have passed. `digest()` is valid after the end.
 */
export class HashingCounter extends Transform {
  bytes = 0;
  private readonly hash: Hash = createHash('sha256');

  constructor(private readonly maxBytes: number) {
    super();
    // The producer is piped in before the consumer starts reading, so an error can come first;
    // the consumer still gets it, from reading the errored stream.
    this.on('error', () => undefined);
  }

  override _transform(
    chunk: Buffer,
    _encoding: BufferEncoding,
    callback: (err?: Error | null, data?: Buffer) => void,
  ): void {
    this.bytes += chunk.length;
    if (this.bytes > this.maxBytes) {
      callback(new TooLargeError(this.maxBytes));
      return;
    }
    this.hash.update(chunk);
    callback(null, chunk);
  }

  digest(): string {
    return this.hash.digest('hex');
  }
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

const CHUNK = 256 * 1024;

/**
 * Reads an open file from its start to its end, at most `maxBytes` (TooLargeError past that),
 * into memory when `keep` is set, hashing as it goes. `sizeHint` is the size fstat gave.
 */
export async function readWhole(
  fh: FileHandle,
  maxBytes: number,
  keep: boolean,
  sizeHint = CHUNK,
): Promise<{ size: number; sha256: string; data: Buffer | null }> {
  const hash = createHash('sha256');
  const chunks: Buffer[] = [];
  // One more byte than expected, so a file of the expected size is read in one call.
  const chunkSize = Math.min(CHUNK, sizeHint + 1);
  let size = 0;
  for (;;) {
    const buf = Buffer.allocUnsafe(chunkSize);
    const { bytesRead } = await fh.read(buf, 0, chunkSize, size);
    if (bytesRead === 0) break;
    size += bytesRead;
    if (size > maxBytes) throw new TooLargeError(maxBytes);
    const chunk = buf.subarray(0, bytesRead);
    hash.update(chunk);
    if (keep) chunks.push(chunk);
  }
  return { size, sha256: hash.digest('hex'), data: keep ? Buffer.concat(chunks, size) : null };
}
