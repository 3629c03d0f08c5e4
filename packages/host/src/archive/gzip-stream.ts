import { once } from 'node:events';
import { PassThrough, Transform, type Readable, type TransformCallback } from 'node:stream';
import { constants, crc32, createDeflateRaw, type DeflateRaw } from 'node:zlib';

/**
 * Where a download's archive bytes go: written in order, each write waiting for room
 * (backpressure), read from `output`. A gzip sink takes a new level between writes.
 */
export interface ArchiveSink {
  readonly output: Readable;
  write(chunk: Buffer, signal: AbortSignal): Promise<void>;
  /** Deflates what is written from now on at `level`; a plain sink ignores it. */
  setLevel(level: number): Promise<void>;
  end(): void;
  destroy(err?: Error): void;
}

/** The fixed gzip member header: magic, deflate, no flags, no mtime, no extra flags, OS unknown. */
const HEADER = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);

/**
 * A gzip stream (RFC 1952, one member) whose deflate level changes exactly between two writes.
 * Node's `Gzip.params()` changes nothing (only raw and zlib deflate streams take new
 * parameters), so this frames a raw deflate stream itself: the header, the deflate data, then
 * the CRC-32 and length of everything written.
 */
export class LevelledGzip implements ArchiveSink {
  readonly output: Transform;
  private readonly deflate: DeflateRaw;
  private crc = 0;
  private size = 0;

  constructor(private level: number) {
    this.deflate = createDeflateRaw({ level, chunkSize: 64 * 1024 });
    let started = false;
    this.output = new Transform({
      transform: (chunk: Buffer, _enc: BufferEncoding, done: TransformCallback) => {
        done(null, started ? chunk : Buffer.concat([HEADER, chunk]));
        started = true;
      },
      flush: (done: TransformCallback) => {
        const trailer = Buffer.alloc(8);
        trailer.writeUInt32LE(this.crc >>> 0, 0);
        trailer.writeUInt32LE(this.size, 4);
        done(null, started ? trailer : Buffer.concat([HEADER, trailer]));
      },
    });
    this.deflate.pipe(this.output);
    this.deflate.on('error', (err) => this.output.destroy(err));
    // The reader going away stops the compressor.
    this.output.on('close', () => this.deflate.destroy());
  }

  async write(chunk: Buffer, signal: AbortSignal): Promise<void> {
    this.crc = crc32(chunk, this.crc);
    this.size = (this.size + chunk.length) >>> 0;
    if (!this.deflate.write(chunk)) await once(this.deflate, 'drain', { signal });
  }

  setLevel(level: number): Promise<void> {
    if (level === this.level || this.deflate.destroyed) return Promise.resolve();
    this.level = level;
    // `params` flushes what was written so far at the old level first; the next write waits
    // for it, so the switch falls exactly between two writes. A stream closed meanwhile (the
    // reader went away) settles it too.
    return new Promise((resolve) => {
      const done = (): void => {
        this.deflate.off('close', done);
        resolve();
      };
      this.deflate.once('close', done);
      this.deflate.params(level, constants.Z_DEFAULT_STRATEGY, done);
    });
  }

  end(): void {
    this.deflate.end();
  }

  destroy(err?: Error): void {
    this.deflate.destroy();
    this.output.destroy(err);
  }
}

/** The uncompressed `tar` download: bytes as written. */
export class PlainSink implements ArchiveSink {
  readonly output = new PassThrough({ highWaterMark: 256 * 1024 });

  async write(chunk: Buffer, signal: AbortSignal): Promise<void> {
    if (!this.output.write(chunk)) await once(this.output, 'drain', { signal });
  }

  setLevel(): Promise<void> {
    return Promise.resolve();
  }

  end(): void {
    this.output.end();
  }

  destroy(err?: Error): void {
    this.output.destroy(err);
  }
}
