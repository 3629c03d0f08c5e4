import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { deflateRaw } from 'node:zlib';
import type { ArchiveFormat } from '@workcell/protocol';
import * as yazl from 'yazl';
import { LevelledGzip, PlainSink, type ArchiveSink } from './gzip-stream.js';
import { END_OF_ARCHIVE, fileHeader, padding } from './tar-format.js';

/** One file to put in a download. */
export interface PackedFile {
  /** Its name in the archive. */
  name: string;
  executable: boolean;
  mtimeMs: number;
  /** Opens the file's bytes and their size when its turn comes; null when it is gone. */
  open(): Promise<{ size: number; body: Readable } | null>;
}

const deflateRawAsync = promisify(deflateRaw);

/** Regular-file modes with the permission bits the manifest keeps. */
const modeOf = (file: PackedFile): number => (file.executable ? 0o755 : 0o644);

/**
 * The gzip level of `tar.gz` downloads for data that compresses: 1, the fastest. Workspace trees
 * are mostly source text, which level 1 still shrinks to about a third; level 6 (gzip's default)
 * saves a few per cent more at several times the CPU.
 */
export const ARCHIVE_GZIP_LEVEL = 1;

/** Bytes of a file's first chunk tried at level 1 to see whether the file compresses at all. */
const SAMPLE_BYTES = 16 * 1024;
/** A sample that deflates to more than this share of its size is stored, not compressed. */
const INCOMPRESSIBLE_RATIO = 0.9;

/**
 * The gzip level for one file from a sample of its first bytes: 0 (stored) for data that does not
 * compress (archives, images, binaries: deflate would only spend CPU on them), else
 * `ARCHIVE_GZIP_LEVEL`. Files too small to sample are compressed.
 */
export async function levelFor(firstChunk: Buffer): Promise<number> {
  if (firstChunk.length < 4096) return ARCHIVE_GZIP_LEVEL;
  const sample = firstChunk.subarray(0, SAMPLE_BYTES);
  const packed = await deflateRawAsync(sample, { level: 1 });
  return packed.length > sample.length * INCOMPRESSIBLE_RATIO ? 0 : ARCHIVE_GZIP_LEVEL;
}

/**
 * Opens the files one ahead of the writer: while one file's bytes are written (and compressed),
 * the next file's object is already being opened, so the store's latency overlaps the work.
 * At most one opened file waits, so memory stays bounded.
 */
async function* readAhead(
  files: Iterable<PackedFile>,
  stop: AbortSignal,
): AsyncGenerator<{ file: PackedFile; opened: Awaited<ReturnType<PackedFile['open']>> }> {
  // The file opened ahead and not yet handed to the writer: closed unread if the writer stops.
  let ahead: { file: PackedFile; opening: ReturnType<PackedFile['open']> } | null = null;
  try {
    for (const file of files) {
      if (stop.aborted) return;
      const next = { file, opening: file.open() };
      // A failed open is reported when its turn comes, never as an unhandled rejection.
      next.opening.catch(() => undefined);
      const current = ahead;
      ahead = next;
      if (current) yield { file: current.file, opened: await current.opening };
    }
    const last = ahead;
    if (last && !stop.aborted) {
      ahead = null;
      yield { file: last.file, opened: await last.opening };
    }
  } finally {
    const unread = ahead;
    if (unread)
      void unread.opening.then(
        (o) => o?.body.destroy(),
        () => undefined,
      );
  }
}

/**
 * The files as a `tar.gz` (or plain `tar`) stream, written block by block: each write waits for
 * the reader (backpressure), and at most one file is open ahead of the one being written, so
 * memory holds a few chunks whatever the archive's size. Each file's data goes through gzip at
 * the level its first bytes call for (stored when they do not compress). A file gone since the
 * listing is left out.
 */
function tarStream(
  files: Iterable<PackedFile>,
  compressed: boolean,
  onError: (err: Error) => void,
): Readable {
  const sink: ArchiveSink = compressed ? new LevelledGzip(ARCHIVE_GZIP_LEVEL) : new PlainSink();
  // A client that goes away closes the output: the file being copied is closed and nothing more is read.
  const stop = new AbortController();
  sink.output.on('close', () => stop.abort(new Error('the archive stream was closed')));
  const { signal } = stop;
  const fill = async (): Promise<void> => {
    for await (const { file, opened } of readAhead(files, signal)) {
      if (opened === null) continue;
      try {
        signal.throwIfAborted();
        await sink.write(fileHeader(file.name, opened.size, modeOf(file), file.mtimeMs), signal);
        let size = 0;
        for await (const chunk of opened.body) {
          signal.throwIfAborted();
          const data = chunk as Buffer;
          if (size === 0 && compressed) await sink.setLevel(await levelFor(data));
          size += data.length;
          if (size > opened.size) break;
          await sink.write(data, signal);
        }
        if (size !== opened.size)
          throw new Error(
            `${file.name} changed size while it was read (${size} of ${opened.size} bytes)`,
          );
        await sink.write(padding(size), signal);
      } catch (err) {
        opened.body.destroy();
        throw err;
      }
    }
    signal.throwIfAborted();
    await sink.write(END_OF_ARCHIVE, signal);
    sink.end();
  };
  fill().catch((err: unknown) => {
    if (!signal.aborted) onError(err as Error);
    sink.destroy(err as Error);
  });
  return sink.output;
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
  if (format === 'zip') return zip(files, onError);
  return tarStream(files, format === 'tar.gz', onError);
}
