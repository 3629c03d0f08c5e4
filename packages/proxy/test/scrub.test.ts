import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ScrubStream, type Scrub } from '../src/secrets/scrub.js';

const SCRUBS: Scrub[] = [
  { needle: Buffer.from('real-secret-value'), replacement: Buffer.from('wcs_placeholder00') },
  { needle: Buffer.from('short'), replacement: Buffer.from('SHORT') },
];

/** Streams `text` through the scrubber in chunks of `size` bytes and answers the output. */
async function scrubbed(text: string, size: number): Promise<string> {
  const data = Buffer.from(text);
  const chunks: Buffer[] = [];
  for (let i = 0; i < data.length; i += size) chunks.push(data.subarray(i, i + size));
  const out: Buffer[] = [];
  for await (const c of Readable.from(chunks).pipe(new ScrubStream(SCRUBS))) out.push(c as Buffer);
  return Buffer.concat(out).toString();
}

describe('the response scrubber', () => {
  const body =
    'a'.repeat(100) +
    'real-secret-value' +
    'b'.repeat(3) +
    'short' +
    'c'.repeat(70) +
    'real-secret-value' +
    'real-secret-value' +
    'd'.repeat(40);
  const expected = body
    .replaceAll('real-secret-value', 'wcs_placeholder00')
    .replaceAll('short', 'SHORT');

  it.each([1, 2, 5, 16, 17, 18, 33, 64, 1000])(
    'writes back every value however the body is cut (chunks of %i bytes)',
    async (size) => {
      expect(await scrubbed(body, size)).toBe(expected);
    },
  );

  it('passes a body without a value through unchanged, byte for byte', async () => {
    const clean = 'x'.repeat(200_000) + 'real-secret-valu' + 'y'.repeat(10);
    for (const size of [7, 4096, 65_536]) expect(await scrubbed(clean, size)).toBe(clean);
  });
});
