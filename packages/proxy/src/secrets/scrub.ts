import { Transform, type TransformCallback } from 'node:stream';
import { STREAM_HIGH_WATER_MARK } from '../net/buffers.js';

/** A value to hide and what to write in its place. */
export interface Scrub {
  readonly needle: Buffer;
  readonly replacement: Buffer;
}

/** Replaces every whole occurrence of each needle in `text` (a header value). */
export function scrubText(text: string, scrubs: readonly Scrub[]): string {
  let out = text;
  for (const s of scrubs)
    out = out.split(s.needle.toString('latin1')).join(s.replacement.toString('latin1'));
  return out;
}

/** `buf` with every occurrence of `needle` replaced; `buf` itself when it holds none. */
export function replaceEvery(buf: Buffer, needle: Buffer, replacement: Buffer): Buffer {
  let at = buf.indexOf(needle);
  if (at < 0) return buf;
  const parts: Buffer[] = [];
  let from = 0;
  while (at >= 0) {
    parts.push(buf.subarray(from, at), replacement);
    from = at + needle.length;
    at = buf.indexOf(needle, from);
  }
  parts.push(buf.subarray(from));
  return Buffer.concat(parts);
}

function replaceAll(buf: Buffer, scrubs: readonly Scrub[]): Buffer {
  let out: Buffer = buf;
  for (const { needle, replacement } of scrubs) out = replaceEvery(out, needle, replacement);
  return out;
}

/**
 * How many bytes at the end of `buf` are the start of some needle: a value that may go on in
 * the next chunk. Only those are held back; a chunk that ends in anything else goes out whole.
 */
function pendingPrefix(buf: Buffer, scrubs: readonly Scrub[]): number {
  let longest = 0;
  for (const { needle } of scrubs) {
    for (let k = Math.min(needle.length - 1, buf.length); k > longest; k -= 1) {
      const at = buf.length - k;
      if (buf[at] === needle[0] && buf.compare(needle, 1, k, at + 1) === 0) {
        longest = k;
        break;
      }
    }
  }
  return longest;
}

const EMPTY = Buffer.alloc(0);

/**
 * A response body stream with each secret value the request carried written back as its
 * placeholder, so an upstream that reflects a request header does not hand the value to the
 * container. A chunk's tail that could be the start of a value is held back until the next
 * chunk shows whether it is, so a value split across chunks is still found; every other chunk
 * goes out as it came, uncopied. Compressed or otherwise encoded reflections are not recognised.
 */
export class ScrubStream extends Transform {
  private carry: Buffer = EMPTY;

  constructor(private readonly scrubs: readonly Scrub[]) {
    super({ highWaterMark: STREAM_HIGH_WATER_MARK });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    const data = replaceAll(
      this.carry.length ? Buffer.concat([this.carry, chunk]) : chunk,
      this.scrubs,
    );
    const hold = pendingPrefix(data, this.scrubs);
    this.carry = hold ? data.subarray(data.length - hold) : EMPTY;
    done(null, hold ? data.subarray(0, data.length - hold) : data);
  }

  override _flush(done: TransformCallback): void {
    done(null, this.carry);
  }
}
