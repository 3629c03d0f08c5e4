import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { WorkcellError } from '@workcell/protocol';
import * as tar from 'tar-stream';
import * as yauzl from 'yauzl';
import type { EntryKind } from './entry-rules.js';
import type { UploadKind } from './format.js';

/** One entry of an uploaded archive, as either format gives it. */
export interface ArchiveEntry {
  /** The name as stored, decoded as UTF-8; null when its bytes are not UTF-8. */
  name: string | null;
  kind: EntryKind;
  /** What the archive calls it (`symlink`, `character-device`, ...), for messages. */
  type: string;
  executable: boolean;
  mtimeMs: number | null;
  /** The entry's bytes (empty but for files); read it before taking the next entry. */
  body: Readable;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeName(raw: Buffer): string | null {
  try {
    return utf8.decode(raw);
  } catch {
    return null;
  }
}

/** An entry as tar-stream yields it: its header and its bytes. */
type TarSource = AsyncIterable<unknown> & { header: tar.Header };

const TAR_KINDS: Readonly<Record<string, EntryKind>> = {
  file: 'file',
  'contiguous-file': 'file',
  directory: 'directory',
  link: 'link',
  symlink: 'link',
};

/** tar-stream's type names as messages say them. */
const TAR_TYPE_NAMES: Readonly<Record<string, string>> = {
  link: 'hard link',
  symlink: 'symbolic link',
  'character-device': 'character device',
  'block-device': 'block device',
  unknown: 'entry of a type workspaces do not hold',
};

/** Anything the archive library throws while reading becomes `archive_invalid`. */
function invalid(err: unknown): WorkcellError {
  if (err instanceof WorkcellError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new WorkcellError('archive_invalid', `the archive cannot be read: ${message}`);
}

async function* tarEntries(file: string, gzipped: boolean): AsyncGenerator<ArchiveEntry> {
  const source = createReadStream(file);
  const extract = tar.extract();
  const gunzip = gzipped ? createGunzip() : null;
  const fail = (err: Error): void => {
    extract.destroy(err);
  };
  source.on('error', fail);
  if (gunzip) {
    gunzip.on('error', fail);
    source.pipe(gunzip).pipe(extract);
  } else {
    source.pipe(extract);
  }
  try {
    const entries = extract[Symbol.asyncIterator]();
    for (;;) {
      let next: IteratorResult<TarSource>;
      try {
        next = await entries.next();
      } catch (err) {
        throw invalid(err);
      }
      if (next.done) return;
      const source = next.value;
      const { header } = source;
      // tar-stream names the types it knows; any other type flag (GNU sparse, volume label) is null.
      const type = header.type ?? 'unknown';
      // tar-stream reads an entry's bytes as a streamx stream; the rest of the host speaks Node's.
      const body = Readable.from(source);
      yield {
        // tar-stream decodes names as UTF-8, putting U+FFFD where the bytes were not.
        name: header.name.includes('\uFFFD') ? null : header.name,
        kind: TAR_KINDS[type] ?? 'special',
        type: TAR_TYPE_NAMES[type] ?? type,
        executable: ((header.mode ?? 0) & 0o111) !== 0,
        mtimeMs: header.mtime ? header.mtime.getTime() : null,
        body,
      };
      body.resume();
      await finished(body).catch(() => undefined);
    }
  } finally {
    source.destroy();
    gunzip?.destroy();
    extract.destroy();
  }
}

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
/** `versionMadeBy` high byte of an archive made on Unix: external attributes carry a mode. */
const MADE_ON_UNIX = 3;
const ZIP_SPECIAL_NAMES: Readonly<Record<number, string>> = {
  0o010000: 'fifo',
  0o020000: 'character device',
  0o060000: 'block device',
  0o140000: 'socket',
};
/** The MS-DOS directory attribute in the low byte of the external attributes. */
const DOS_DIRECTORY = 0x10;

function zipKind(entry: yauzl.Entry, name: Buffer): { kind: EntryKind; type: string } {
  const mode =
    entry.versionMadeBy >> 8 === MADE_ON_UNIX ? (entry.externalFileAttributes >>> 16) & 0xffff : 0;
  const format = mode & S_IFMT;
  if (format === S_IFLNK) return { kind: 'link', type: 'symbolic link' };
  const isDir =
    name.at(-1) === 0x2f ||
    format === S_IFDIR ||
    (entry.externalFileAttributes & DOS_DIRECTORY) !== 0;
  if (isDir) return { kind: 'directory', type: 'directory' };
  if (format === 0 || format === S_IFREG) return { kind: 'file', type: 'file' };
  return {
    kind: 'special',
    type: ZIP_SPECIAL_NAMES[format] ?? `special file (type ${format.toString(8)})`,
  };
}

const empty = (): Readable => Readable.from([]);

async function* zipEntries(file: string): AsyncGenerator<ArchiveEntry> {
  let zip: yauzl.ZipFile;
  try {
    // Names stay raw bytes (decodeStrings: false): the rules check them, not yauzl's rewrite.
    zip = await yauzl.openPromise(file, {
      lazyEntries: true,
      decodeStrings: false,
      validateEntrySizes: true,
      autoClose: false,
    });
  } catch (err) {
    throw invalid(err);
  }
  try {
    const entries = zip.eachEntry();
    for (;;) {
      let next: IteratorResult<yauzl.Entry>;
      try {
        next = await entries.next();
      } catch (err) {
        throw invalid(err);
      }
      if (next.done) return;
      const entry = next.value;
      // With decodeStrings off, yauzl hands the name over as the raw bytes.
      const raw = entry.fileName as unknown as Buffer;
      const { kind, type } = zipKind(entry, raw);
      let body = empty();
      if (kind === 'file') {
        if (entry.isEncrypted())
          throw new WorkcellError('archive_invalid', 'the archive holds an encrypted entry');
        if (!entry.canDecodeFileData())
          throw new WorkcellError(
            'archive_invalid',
            `the archive uses compression method ${entry.compressionMethod} (only stored and deflate are read)`,
          );
        try {
          body = await zip.openReadStreamPromise(entry);
        } catch (err) {
          throw invalid(err);
        }
      }
      yield {
        name: decodeName(raw),
        kind,
        type,
        executable: ((entry.externalFileAttributes >>> 16) & 0o111) !== 0,
        mtimeMs: entry.getLastModDate().getTime(),
        body,
      };
      body.resume();
    }
  } finally {
    zip.close();
  }
}

/**
 * The entries of the archive in `file`, in archive order. A caller reads (or drains) each
 * entry's body before asking for the next; errors of the archive itself (corrupt, cut short,
 * an entry whose bytes do not match its sizes) are `archive_invalid`, thrown from the
 * iteration or from reading a body. Stopping early closes the file.
 */
export function readArchive(file: string, kind: UploadKind): AsyncGenerator<ArchiveEntry> {
  return kind === 'zip' ? zipEntries(file) : tarEntries(file, kind === 'tar.gz');
}

/** Reads a body through, mapping a read failure of the archive to `archive_invalid`. */
export async function* chunksOf(body: Readable): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of body) yield chunk as Buffer;
  } catch (err) {
    throw invalid(err);
  }
}
