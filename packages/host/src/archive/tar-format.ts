/**
 * The bytes of a tar archive of regular files (POSIX ustar, with a pax `path` record for names
 * that do not fit the ustar fields), written by the download path itself so that it knows
 * where each file's data starts in the stream (the gzip level changes there).
 */

const BLOCK = 512;

/** Two empty blocks: the end of an archive. */
export const END_OF_ARCHIVE = Buffer.alloc(2 * BLOCK);

/** Zero bytes that pad `size` bytes of data up to a whole block. */
export function padding(size: number): Buffer {
  const rest = size % BLOCK;
  return rest === 0 ? Buffer.alloc(0) : Buffer.alloc(BLOCK - rest);
}

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, '0')}\0`;
}

interface HeaderFields {
  name: string;
  prefix: string;
  mode: number;
  size: number;
  mtimeSeconds: number;
  type: '0' | 'x';
}

function block(fields: HeaderFields): Buffer {
  const buf = Buffer.alloc(BLOCK);
  buf.write(fields.name, 0, 100, 'utf8');
  buf.write(octal(fields.mode, 8), 100, 'ascii');
  buf.write(octal(0, 8), 108, 'ascii'); // uid
  buf.write(octal(0, 8), 116, 'ascii'); // gid
  buf.write(octal(fields.size, 12), 124, 'ascii');
  buf.write(octal(fields.mtimeSeconds, 12), 136, 'ascii');
  buf.write(fields.type, 156, 'ascii');
  buf.write('ustar\u000000', 257, 'ascii');
  buf.write(fields.prefix, 345, 155, 'utf8');
  buf.fill(0x20, 148, 156); // the checksum counts its own field as spaces
  let sum = 0;
  for (const byte of buf) sum += byte;
  buf.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return buf;
}

/** Splits a name into ustar's prefix and name fields at a `/`, or null when it cannot fit. */
function splitName(name: string): { prefix: string; name: string } | null {
  if (!/^[\x20-\x7e]*$/.test(name)) return null;
  if (name.length <= 100) return { prefix: '', name };
  for (let at = name.indexOf('/'); at >= 0; at = name.indexOf('/', at + 1)) {
    const prefix = name.slice(0, at);
    const rest = name.slice(at + 1);
    if (prefix.length <= 155 && rest.length <= 100 && rest.length > 0)
      return { prefix, name: rest };
  }
  return null;
}

/** One pax record: `<length> <key>=<value>\n`, its length counting itself. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let length = Buffer.byteLength(body);
  while (String(length).length + Buffer.byteLength(body) !== length)
    length = String(length).length + Buffer.byteLength(body);
  return `${length}${body}`;
}

/** The header block(s) of a regular file: ustar, preceded by a pax record for a long name. */
export function fileHeader(name: string, size: number, mode: number, mtimeMs: number): Buffer {
  const mtimeSeconds = Math.max(0, Math.floor(mtimeMs / 1000));
  const split = splitName(name);
  if (split) return block({ ...split, mode, size, mtimeSeconds, type: '0' });
  const pax = Buffer.from(paxRecord('path', name), 'utf8');
  return Buffer.concat([
    block({ name: 'PaxHeader', prefix: '', mode, size: pax.length, mtimeSeconds, type: 'x' }),
    pax,
    padding(pax.length),
    block({
      name: name.replace(/[^\x20-\x7e]/g, '_').slice(-100),
      prefix: '',
      mode,
      size,
      mtimeSeconds,
      type: '0',
    }),
  ]);
}
