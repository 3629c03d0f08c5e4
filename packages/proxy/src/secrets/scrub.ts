import { Transform, type TransformCallback } from 'node:stream';

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

function replaceAll(buf: Buffer, scrubs: readonly Scrub[]): Buffer {
  let out: Buffer = buf;
  for (const { needle, replacement } of scrubs) {
    let at = out.indexOf(needle);
    if (at < 0) continue;
    const parts: Buffer[] = [];
    let from = 0;
    while (at >= 0) {
      parts.push(out.subarray(from, at), replacement);
      from = at + needle.length;
      at = out.indexOf(needle, from);
    }
    parts.push(out.subarray(from));
    out = Buffer.concat(parts);
  }
  return out;
}

/**
 * A response body stream with each secret value the request carried written back as its
 * placeholder, so an upstream that reflects a request header does not hand the value to the
 * container. It holds back the last `longest - 1` bytes of each chunk, so a value split across
 * chunks is still found. Compressed or otherwise encoded reflections are not recognised.
 */
export class ScrubStream extends Transform {
  private carry: Buffer = Buffer.alloc(0);
  private readonly keep: number;

  constructor(private readonly scrubs: readonly Scrub[]) {
    super();
    this.keep = Math.max(0, ...scrubs.map((s) => s.needle.length)) - 1;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    // Most chunks hold no value at all: pass them on without copying. A value can only straddle
    // the held-back bytes and the chunk within `carry + chunk[0, keep)`.
    if (chunk.length > this.keep) {
      const boundary = this.carry.length
        ? Buffer.concat([this.carry, chunk.subarray(0, this.keep)])
        : null;
      const hit = this.scrubs.some(
        ({ needle }) => chunk.indexOf(needle) >= 0 || (boundary?.indexOf(needle) ?? -1) >= 0,
      );
      if (!hit) {
        // One write downstream per chunk: a separate push of the few held-back bytes would
        // cost the response a frame (and a TLS record) of its own.
        const cut = chunk.length - this.keep;
        const out = this.carry.length
          ? Buffer.concat([this.carry, chunk.subarray(0, cut)])
          : chunk.subarray(0, cut);
        this.carry = chunk.subarray(cut);
        done(null, out);
        return;
      }
    }
    const joined = replaceAll(
      this.carry.length ? Buffer.concat([this.carry, chunk]) : chunk,
      this.scrubs,
    );
    const cut = Math.max(0, joined.length - this.keep);
    this.carry = joined.subarray(cut);
    done(null, joined.subarray(0, cut));
  }

  override _flush(done: TransformCallback): void {
    done(null, this.carry);
  }
}
