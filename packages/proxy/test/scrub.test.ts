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

  it.each(SCRUBS.map((s) => s.needle.toString()))(
    'writes back "%s" split in two at every offset, and in three at every pair of offsets',
    async (value) => {
      const expectedOf = (text: string): string =>
        text.replaceAll('real-secret-value', 'wcs_placeholder00').replaceAll('short', 'SHORT');
      const text = `<${value}>`;
      const through = async (cuts: number[]): Promise<string> => {
        const data = Buffer.from(text);
        const edges = [0, ...cuts, data.length];
        const chunks = edges.slice(1).map((end, i) => data.subarray(edges[i], end));
        const out: Buffer[] = [];
        for await (const c of Readable.from(chunks).pipe(new ScrubStream(SCRUBS)))
          out.push(c as Buffer);
        return Buffer.concat(out).toString();
      };
      for (let a = 1; a < text.length; a += 1) {
        expect(await through([a]), `cut at ${a}`).toBe(expectedOf(text));
        for (let b = a + 1; b < text.length; b += 1)
          expect(await through([a, b]), `cut at ${a} and ${b}`).toBe(expectedOf(text));
      }
    },
  );

  it('passes a body without a value through unchanged, byte for byte', async () => {
    const clean = 'x'.repeat(200_000) + 'real-secret-valu' + 'y'.repeat(10);
    for (const size of [7, 4096, 65_536]) expect(await scrubbed(clean, size)).toBe(clean);
  });
});

describe('the response scrubber against a whole-body replace', () => {
  /** A small deterministic generator, so a failure names a seed that repeats it. */
  function random(seed: number): () => number {
    let x = seed;
    return () => {
      x = (x * 1_103_515_245 + 12_345) % 2_147_483_648;
      return x / 2_147_483_648;
    };
  }
  const pieces = [
    'real-secret-value',
    'real-secret-valu',
    'real-',
    'r',
    'rea',
    'short',
    'shor',
    's',
    'sh',
    'x',
    'value',
    '-',
  ];

  it.each(Array.from({ length: 40 }, (_, i) => i + 1))(
    'agrees with it on a body of values, near-values and parts of values, cut at random (seed %i)',
    async (seed) => {
      const next = random(seed);
      let body = '';
      while (body.length < 2_000) body += pieces[Math.floor(next() * pieces.length)];
      const expected = body
        .replaceAll('real-secret-value', 'wcs_placeholder00')
        .replaceAll('short', 'SHORT');
      const data = Buffer.from(body);
      const chunks: Buffer[] = [];
      for (let i = 0; i < data.length;) {
        const size = 1 + Math.floor(next() * 40);
        chunks.push(data.subarray(i, i + size));
        i += size;
      }
      const out: Buffer[] = [];
      for await (const c of Readable.from(chunks).pipe(new ScrubStream(SCRUBS)))
        out.push(c as Buffer);
      expect(Buffer.concat(out).toString()).toBe(expected);
    },
  );
});
