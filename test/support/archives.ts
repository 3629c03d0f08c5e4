import { crc32, deflateRawSync, gunzipSync, gzipSync } from 'node:zlib';

/*
 * Archives built byte by byte, so a test can write exactly the hostile entry it means (a `..`
 * name, an absolute path, a link, a device, a name twice) where archive libraries would refuse
 * or rewrite it. Also readers for the host's answers (tar.gz, zip), checked as plainly.
 */

/** One entry to write. `type` is the tar type flag: `0` file, `1` hard link, `2` symlink, `3` char device, `4` block device, `5` directory, `6` fifo, `S` GNU sparse file, `V` volume label. */
export interface TestEntry {
  name: string;
  type?: '0' | '1' | '2' | '3' | '4' | '5' | '6' | 'S' | 'V';
  body?: Buffer | string;
  mode?: number;
  linkname?: string;
  mtime?: Date;
}

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, '0')}\0`;
}

function tarHeader(entry: TestEntry, size: number): Buffer {
  const header = Buffer.alloc(512);
  const name = Buffer.from(entry.name, 'utf8');
  if (name.length > 100) throw new Error(`test tar names are at most 100 bytes: ${entry.name}`);
  name.copy(header, 0);
  const type = entry.type ?? '0';
  header.write(octal(entry.mode ?? (type === '5' ? 0o755 : 0o644), 8), 100, 'ascii');
  header.write(octal(0, 8), 108, 'ascii');
  header.write(octal(0, 8), 116, 'ascii');
  header.write(octal(size, 12), 124, 'ascii');
  header.write(
    octal(Math.floor((entry.mtime ?? new Date('2026-01-02T03:04:05Z')).getTime() / 1000), 12),
    136,
    'ascii',
  );
  header.write(type, 156, 'ascii');
  if (entry.linkname) header.write(entry.linkname, 157, 'utf8');
  header.write('ustar\u000000', 257, 'latin1');
  header.fill(' ', 148, 156);
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return header;
}

/** A tar of `entries`, written exactly as given. */
export function tarOf(entries: readonly TestEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    const body = Buffer.from(entry.body ?? '');
    const type = entry.type ?? '0';
    const size = type === '0' ? body.length : 0;
    parts.push(tarHeader(entry, size));
    if (size > 0) {
      parts.push(body);
      const pad = (512 - (size % 512)) % 512;
      parts.push(Buffer.alloc(pad));
    }
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

export function tarGzOf(entries: readonly TestEntry[]): Buffer {
  return gzipSync(tarOf(entries));
}

/** One zip entry; `unixMode` goes in the external attributes (type bits included) when given. */
export interface TestZipEntry {
  name: string | Buffer;
  body?: Buffer | string;
  unixMode?: number;
  /** Deflate (default) or store. */
  deflate?: boolean;
}

/** A zip of `entries`, names exactly as given (UTF-8 flag set). */
export function zipOf(entries: readonly TestZipEntry[]): Buffer {
  const locals: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = Buffer.isBuffer(entry.name) ? entry.name : Buffer.from(entry.name, 'utf8');
    const raw = Buffer.from(entry.body ?? '');
    const deflate = entry.deflate ?? true;
    const data = deflate ? deflateRawSync(raw) : raw;
    const crc = crc32(raw);
    const method = deflate ? 8 : 0;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt16LE(0, 10);
    local.writeUInt16LE(0x5c21, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(raw.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    locals.push(local, name, data);
    const dir = Buffer.alloc(46);
    dir.writeUInt32LE(0x02014b50, 0);
    dir.writeUInt16LE(entry.unixMode !== undefined ? (3 << 8) | 20 : 20, 4);
    dir.writeUInt16LE(20, 6);
    dir.writeUInt16LE(0x0800, 8);
    dir.writeUInt16LE(method, 10);
    dir.writeUInt16LE(0, 12);
    dir.writeUInt16LE(0x5c21, 14);
    dir.writeUInt32LE(crc, 16);
    dir.writeUInt32LE(data.length, 20);
    dir.writeUInt32LE(raw.length, 24);
    dir.writeUInt16LE(name.length, 28);
    dir.writeUInt32LE(entry.unixMode !== undefined ? (entry.unixMode << 16) >>> 0 : 0, 38);
    dir.writeUInt32LE(offset, 42);
    central.push(dir, name);
    offset += local.length + name.length + data.length;
  }
  const directory = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

/** A file as read back from an archive. */
export interface ReadFile {
  body: Buffer;
  mode: number;
}

/** The regular files of a tar (ustar, with pax `path` records), by name. */
export function readTar(tar: Buffer): Map<string, ReadFile> {
  const files = new Map<string, ReadFile>();
  let at = 0;
  let paxPath: string | null = null;
  while (at + 512 <= tar.length) {
    const header = tar.subarray(at, at + 512);
    if (header.every((b) => b === 0)) break;
    const field = (start: number, length: number): string =>
      header
        .toString('utf8', start, start + length)
        .replace(/\0.*$/s, '')
        .trim();
    const size = parseInt(field(124, 12) || '0', 8);
    const type = field(156, 1) || '0';
    const prefix = field(345, 155);
    const name = paxPath ?? (prefix ? `${prefix}/${field(0, 100)}` : field(0, 100));
    const body = tar.subarray(at + 512, at + 512 + size);
    paxPath = null;
    if (type === 'x') {
      const match = /\d+ path=([^\n]*)\n/.exec(body.toString('utf8'));
      paxPath = match?.[1] ?? null;
    } else if (type === '0') {
      files.set(name, { body: Buffer.from(body), mode: parseInt(field(100, 8), 8) });
    }
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return files;
}

export function readTarGz(data: Buffer): Map<string, ReadFile> {
  return readTar(gunzipSync(data));
}
