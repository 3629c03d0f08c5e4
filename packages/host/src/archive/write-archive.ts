import { once } from 'node:events';
import { Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import type { ArchiveFormat } from '@workcell/protocol';
import * as tar from 'tar-stream';
import * as yazl from 'yazl';

/** One file to put in a download. */
export interface PackedFile {
  /** Its name in the archive. */
  name: string;
  executable: boolean;
  mtimeMs: number;
  /** Opens the file's bytes and their size when its turn comes; null when it is gone. */
  open(): Promise<{ size: number; body: Readable } | null>;
}

/** A tar entry being written (a streamx Writable): the part of it used here. */
type EntrySink = NodeJS.EventEmitter & { write(chunk: Buffer): boolean; end(): void };

/** Regular-file modes with the permission bits the manifest keeps. */
const modeOf = (file: PackedFile): number => (file.executable ? 0o755 : 0o644);

/**
 * The files as a `tar.gz` stream, built entry by entry: a file is opened only when the one
 * before it is written, and each chunk waits for the reader (backpressure), so memory holds a
 * chunk or two whatever the archive's size. A file gone since the listing is left out.
 */
function tarGz(files: Iterable<PackedFile>, onError: (err: Error) => void): Readable {
  const pack = tar.pack();
  const gzip = createGzip();
  // A client that goes away closes the output: the file being copied is closed and nothing more is read.
  const stop = new AbortController();
  gzip.on('close', () => {
    stop.abort(new Error('the archive stream was closed'));
    pack.destroy();
  });
  pack.on('error', (err: Error) => gzip.destroy(err));
  pack.pipe(gzip);
  const fill = async (): Promise<void> => {
    for (const file of files) {
      if (stop.signal.aborted) return;
      const opened = await file.open();
      if (opened === null) continue;
      const written = new Promise<void>((resolve, reject) => {
        const entry: EntrySink = pack.entry(
          {
            name: file.name,
            size: opened.size,
            mode: modeOf(file),
            mtime: new Date(file.mtimeMs),
            type: 'file',
          },
          (err) => (err ? reject(err) : resolve()),
        ) as unknown as EntrySink;
        const copy = async (): Promise<void> => {
          for await (const chunk of opened.body) {
            if (!entry.write(chunk as Buffer)) await once(entry, 'drain', { signal: stop.signal });
          }
          entry.end();
        };
        copy().catch((err: unknown) => {
          opened.body.destroy();
          reject(err as Error);
        });
      });
      await written;
    }
    pack.finalize();
  };
  fill().catch((err: unknown) => {
    if (!stop.signal.aborted) onError(err as Error);
    pack.destroy(err as Error);
    gzip.destroy(err as Error);
  });
  return gzip;
}

/**
 * The files as a zip stream (deflate), each file opened only when yazl reaches it and read at
 * the pace the reader takes the output.
 */
function zip(files: Iterable<PackedFile>, onError: (err: Error) => void): Readable {
  const archive = new yazl.ZipFile();
  const output = archive.outputStream as Readable;
  // The file yazl is reading; closed with the output when a client goes away.
  const reading: { body: Readable | null } = { body: null };
  let closed = false;
  output.on('close', () => {
    closed = true;
    reading.body?.destroy();
  });
  archive.on('error', (err: Error) => {
    if (!closed) onError(err);
    output.destroy(err);
  });
  for (const file of files) {
    archive.addReadStreamLazy(
      file.name,
      { mtime: new Date(file.mtimeMs), mode: 0o100000 | modeOf(file), compress: true },
      (cb) => {
        file.open().then(
          (opened) => {
            if (opened === null)
              cb(new Error(`${file.name} is gone from the store`), Readable.from([]));
            else cb(null, opened.body);
          },
          (err: unknown) => cb(err, Readable.from([])),
        );
      },
    );
  }
  archive.end();
  return output;
}

/**
 * Streams `files` as an archive of `format`. The stream fails (and `onError` hears why) when a
 * file cannot be read; by then the response has started, so the client sees a cut archive.
 */
export function packFiles(
  format: ArchiveFormat,
  files: Iterable<PackedFile>,
  onError: (err: Error) => void,
): Readable {
  return format === 'zip' ? zip(files, onError) : tarGz(files, onError);
}
