import { createHash, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { WorkcellError } from '@workcell/protocol';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DirectoryObjectStore } from '../../packages/host/src/storage/directory-store.js';
import type { ObjectStore } from '../../packages/host/src/storage/object-store.js';
import { S3ObjectStore } from '../../packages/host/src/storage/s3-store.js';

/**
 * One contract, run against every ObjectStore: the directory store in a temporary directory and
 * the S3 store against s3rver under a prefix unique to this run.
 */
interface Harness {
  store: ObjectStore;
  /** Operations sent to the backend, when the store can report them. */
  requests: string[] | null;
  /**
   * Whether the backend makes concurrent writes of one key atomic. The directory store does it
   * itself (temporary file and rename); AWS S3 does it server-side, but s3rver, the test server,
   * writes objects in place, so two concurrent writes interleave there.
   */
  atomicBackend: boolean;
  cleanup(): Promise<void>;
}

const S3_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

const harnesses: [string, () => Promise<Harness>][] = [
  [
    'DirectoryObjectStore',
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'workcell-contract-'));
      return {
        store: new DirectoryObjectStore({ root: join(dir, 'objects') }),
        requests: null,
        atomicBackend: true,
        cleanup: () => rm(dir, { recursive: true, force: true }),
      };
    },
  ],
  [
    'S3ObjectStore',
    async () => {
      const requests: string[] = [];
      const store = new S3ObjectStore({
        bucket: inject('s3Bucket'),
        endpoint: inject('s3Endpoint'),
        prefix: `contract-${randomUUID()}`,
        credentials: S3_CREDENTIALS,
        onRequest: (op) => requests.push(op),
      });
      return {
        store,
        requests,
        atomicBackend: false,
        cleanup: async () => {
          await store.deletePrefix('');
          await store.close();
        },
      };
    },
  ],
];

async function text(store: ObjectStore, key: string): Promise<string | null> {
  const buf = await store.getBuffer(key);
  return buf === null ? null : buf.toString('utf8');
}

async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function sha256(buf: Buffer): string {
  return createHash('sha256').update(buf).digest('hex');
}

/** `size` bytes that differ from chunk to chunk, as a stream of 1 MiB chunks. */
function patterned(size: number, seed: number): { buffer: Buffer; stream: () => Readable } {
  const buffer = Buffer.alloc(size);
  for (let i = 0; i + 4 <= size; i += 4) buffer.writeUInt32LE((i * 2654435761 + seed) >>> 0, i);
  const stream = (): Readable =>
    Readable.from(
      (function* chunks() {
        for (let i = 0; i < size; i += 1024 * 1024) yield buffer.subarray(i, i + 1024 * 1024);
      })(),
    );
  return { buffer, stream };
}

describe.each(harnesses)('ObjectStore contract: %s', (_name, create) => {
  let h: Harness;
  let store: ObjectStore;
  let n = 0;
  /** A fresh key namespace per test, so tests never see each other's objects. */
  const ns = (): string => `t${(n += 1)}/`;

  beforeAll(async () => {
    h = await create();
    store = h.store;
    await store.ping();
  });

  afterAll(async () => {
    await h.cleanup();
  });

  it('stores, reads and describes an object', async () => {
    const p = ns();
    const info = await store.put(`${p}hello.txt`, 'hello world', { contentType: 'text/plain' });
    expect(info).toMatchObject({ key: `${p}hello.txt`, size: 11 });
    expect(info.etag).not.toBe('');
    expect(await text(store, `${p}hello.txt`)).toBe('hello world');
    const head = await store.head(`${p}hello.txt`);
    expect(head).toMatchObject({ key: `${p}hello.txt`, size: 11, etag: info.etag });
    expect(head?.modifiedAt.getTime()).toBeGreaterThan(Date.now() - 60_000);
    const got = await store.get(`${p}hello.txt`);
    expect(got?.info).toMatchObject({ size: 11, etag: info.etag });
    expect((await readAll(got!.body)).toString()).toBe('hello world');
    await store.put(`${p}bin`, Buffer.from([0, 1, 2, 255]));
    expect(await store.getBuffer(`${p}bin`)).toEqual(Buffer.from([0, 1, 2, 255]));
    await store.put(`${p}empty`, Buffer.alloc(0));
    expect(await store.getBuffer(`${p}empty`)).toEqual(Buffer.alloc(0));
    expect((await store.head(`${p}empty`))?.size).toBe(0);
  });

  it('answers null for missing keys and ignores deletes of them', async () => {
    const p = ns();
    expect(await store.get(`${p}missing`)).toBeNull();
    expect(await store.get(`${p}missing`, { start: 0, end: 3 })).toBeNull();
    expect(await store.getBuffer(`${p}missing`)).toBeNull();
    expect(await store.head(`${p}missing`)).toBeNull();
    expect(await store.list(p)).toEqual([]);
    await store.delete(`${p}missing`);
    await store.deleteMany([`${p}missing`, `${p}also/missing`]);
    await store.deleteMany([]);
    expect(await store.deletePrefix(p)).toBe(0);
  });

  it('copies an object inside the store, replacing the target, and refuses a missing source', async () => {
    const p = ns();
    await store.put(`${p}src`, 'the bytes');
    await store.put(`${p}dst/x y é`, 'old');
    const info = await store.copy(`${p}src`, `${p}dst/x y é`);
    expect(info).toMatchObject({ key: `${p}dst/x y é`, size: 9 });
    expect(await text(store, `${p}dst/x y é`)).toBe('the bytes');
    expect(await text(store, `${p}src`)).toBe('the bytes');
    await expect(store.copy(`${p}missing`, `${p}other`)).rejects.toMatchObject({
      code: 'not_found',
    });
    expect(await store.head(`${p}other`)).toBeNull();
  });

  it('changes the etag when an object is overwritten', async () => {
    const p = ns();
    const first = await store.put(`${p}k`, 'version one');
    const second = await store.put(`${p}k`, 'version two!');
    expect(second.etag).not.toBe(first.etag);
    expect((await store.head(`${p}k`))?.etag).toBe(second.etag);
    expect((await store.head(`${p}k`))?.size).toBe(12);
    expect(await text(store, `${p}k`)).toBe('version two!');
  });

  it('streams a 20 MB body in and out whole', async () => {
    const p = ns();
    const size = 20 * 1024 * 1024 + 123;
    const { buffer, stream } = patterned(size, 7);
    const before = h.requests?.length ?? 0;
    const info = await store.put(`${p}large.bin`, stream());
    expect(info.size).toBe(size);
    if (h.requests !== null) {
      // Larger than one part: lib-storage's multipart upload, not one PutObject.
      const sent = h.requests.slice(before);
      expect(sent).toContain('CreateMultipartUpload');
      expect(sent.filter((op) => op === 'UploadPart').length).toBeGreaterThanOrEqual(3);
      expect(sent).toContain('CompleteMultipartUpload');
    }
    expect((await store.head(`${p}large.bin`))?.size).toBe(size);
    const got = await store.get(`${p}large.bin`);
    expect(got?.info.size).toBe(size);
    expect(sha256(await readAll(got!.body))).toBe(sha256(buffer));
  });

  it('reads byte ranges', async () => {
    const p = ns();
    await store.put(`${p}r`, '0123456789abcdef');
    const read = async (start: number, end?: number): Promise<string> => {
      const got = await store.get(`${p}r`, end === undefined ? { start } : { start, end });
      expect(got?.info.size).toBe(16);
      return (await readAll(got!.body)).toString();
    };
    expect(await read(0, 0)).toBe('0');
    expect(await read(0, 9)).toBe('0123456789');
    expect(await read(10)).toBe('abcdef');
    expect(await read(15, 15)).toBe('f');
    expect(await read(12, 1000)).toBe('cdef');
    await expect(store.get(`${p}r`, { start: 16 })).rejects.toMatchObject({ code: 'bad_request' });
    await expect(store.get(`${p}r`, { start: 5, end: 2 })).rejects.toMatchObject({
      code: 'bad_request',
    });
    await expect(store.get(`${p}r`, { start: -1 })).rejects.toMatchObject({ code: 'bad_request' });
  });

  it('lists a page: the keys after startAfter, at most limit of them', async () => {
    const p = ns();
    const keys = Array.from({ length: 7 }, (_, i) => `${p}page/${String(i).padStart(2, '0')}.json`);
    for (const key of [...keys].reverse()) await store.put(key, key);
    const page = (options: { startAfter?: string; limit?: number }): Promise<string[]> =>
      store.list(`${p}page/`, options).then((l) => l.map((i) => i.key));
    expect(await page({ limit: 3 })).toEqual(keys.slice(0, 3));
    expect(await page({ startAfter: keys[2] as string, limit: 3 })).toEqual(keys.slice(3, 6));
    expect(await page({ startAfter: keys[5] as string, limit: 3 })).toEqual(keys.slice(6));
    // startAfter need not exist: `03.jsonx` sorts after `03.json`.
    expect(await page({ startAfter: `${p}page/03.jsonx` })).toEqual(keys.slice(4));
    expect(await page({ startAfter: keys[6] as string })).toEqual([]);
  });

  it('lists in key order and keeps a/b apart from a/bc', async () => {
    const p = ns();
    const keys = [
      `${p}a/bc/1`,
      `${p}a/b/2`,
      `${p}a/b/1`,
      `${p}a/b`,
      `${p}a/b-x`,
      `${p}a/B`,
      `${p}b`,
      `${p}a/b/sub/deep`,
    ];
    for (const key of keys) await store.put(key, key);
    const listed = (prefix: string): Promise<string[]> =>
      store.list(prefix).then((l) => l.map((i) => i.key));
    expect(await listed(`${p}a/b/`)).toEqual([`${p}a/b/1`, `${p}a/b/2`, `${p}a/b/sub/deep`]);
    expect(await listed(`${p}a/bc/`)).toEqual([`${p}a/bc/1`]);
    expect(await listed(`${p}a/b`)).toEqual([
      `${p}a/b`,
      `${p}a/b-x`,
      `${p}a/b/1`,
      `${p}a/b/2`,
      `${p}a/b/sub/deep`,
      `${p}a/bc/1`,
    ]);
    expect(await listed(p)).toEqual([
      `${p}a/B`,
      `${p}a/b`,
      `${p}a/b-x`,
      `${p}a/b/1`,
      `${p}a/b/2`,
      `${p}a/b/sub/deep`,
      `${p}a/bc/1`,
      `${p}b`,
    ]);
    const infos = await store.list(`${p}a/b/`);
    expect(infos[0]).toMatchObject({ key: `${p}a/b/1`, size: `${p}a/b/1`.length });
    expect(infos[0]?.etag).toBe((await store.head(`${p}a/b/1`))?.etag);
  });

  it('holds an object and objects below its key at once', async () => {
    const p = ns();
    await store.put(`${p}x`, 'file x');
    await store.put(`${p}x/y`, 'file x/y');
    expect(await text(store, `${p}x`)).toBe('file x');
    expect(await text(store, `${p}x/y`)).toBe('file x/y');
    await store.delete(`${p}x`);
    expect(await store.head(`${p}x`)).toBeNull();
    expect(await text(store, `${p}x/y`)).toBe('file x/y');
  });

  it('deletes one, many and by prefix', async () => {
    const p = ns();
    for (const key of [
      'keep/1',
      'drop/1',
      'drop/2',
      'drop/sub/3',
      'dropx/4',
      'one',
      'two',
      'three',
    ]) {
      await store.put(`${p}${key}`, key);
    }
    await store.delete(`${p}one`);
    expect(await store.head(`${p}one`)).toBeNull();
    await store.deleteMany([`${p}two`, `${p}three`]);
    expect(await store.head(`${p}two`)).toBeNull();
    expect(await store.head(`${p}three`)).toBeNull();
    expect(await store.deletePrefix(`${p}drop/`)).toBe(3);
    expect((await store.list(p)).map((i) => i.key)).toEqual([`${p}dropx/4`, `${p}keep/1`]);
  });

  it('deletes more keys than one S3 batch holds', async () => {
    const p = ns();
    const keys = Array.from({ length: 1005 }, (_, i) => `${p}k${String(i).padStart(4, '0')}`);
    const chunks: string[][] = [];
    for (let i = 0; i < keys.length; i += 50) chunks.push(keys.slice(i, i + 50));
    for (const chunk of chunks) await Promise.all(chunk.map((key) => store.put(key, 'x')));
    const before = h.requests?.length ?? 0;
    await store.deleteMany(keys);
    if (h.requests !== null) {
      expect(h.requests.slice(before)).toEqual(['DeleteObjects', 'DeleteObjects']);
    }
    expect(await store.list(p)).toEqual([]);
  });

  it('leaves one whole version when the same key is written concurrently', async () => {
    const p = ns();
    const bodies = Array.from({ length: 6 }, (_, i) => patterned(256 * 1024 + i * 4, i).buffer);
    const infos = await Promise.all(bodies.map((body) => store.put(`${p}race`, body)));
    if (!h.atomicBackend) {
      // Every write succeeded; a later write of the key reads back whole.
      const last = await store.put(`${p}race`, bodies[0]!);
      expect(await store.getBuffer(`${p}race`)).toEqual(bodies[0]);
      expect((await store.head(`${p}race`))?.etag).toBe(last.etag);
      return;
    }
    const stored = await store.getBuffer(`${p}race`);
    const winner = bodies.findIndex((body) => stored !== null && body.equals(stored));
    expect(winner).toBeGreaterThanOrEqual(0);
    const head = await store.head(`${p}race`);
    expect(head?.size).toBe(bodies[winner]?.length);
    expect(head?.etag).toBe(infos[winner]?.etag);
    expect((await store.list(p)).map((i) => i.key)).toEqual([`${p}race`]);
  });

  it('keeps keys with unicode and spaces exactly', async () => {
    const p = ns();
    const keys = [
      `${p}dir with space/naïve — ✓.txt`,
      `${p}日本語/ファイル`,
      `${p}emoji 😀/x y`,
      `${p}100% done`,
    ];
    for (const key of keys) await store.put(key, key);
    for (const key of keys) expect(await text(store, key)).toBe(key);
    expect((await store.list(p)).map((i) => i.key).sort()).toEqual([...keys].sort());
  });

  it('refuses keys that are not safe on every store', async () => {
    const p = ns();
    const bad = [
      `${p}../escape`,
      `/${p}abs`,
      `${p}a//b`,
      `${p}a/./b`,
      `${p}a\0b`,
      `${p}.workcell-object`,
      `${p}${'x'.repeat(1100)}`,
    ];
    for (const key of bad) {
      await expect(store.put(key, 'x')).rejects.toSatisfy(
        (err: unknown) => err instanceof WorkcellError && err.code === 'invalid_path',
      );
      await expect(store.head(key)).rejects.toMatchObject({ code: 'invalid_path' });
    }
    await expect(store.list('../')).rejects.toMatchObject({ code: 'invalid_path' });
    expect(await store.list(p)).toEqual([]);
  });

  it('reports a stream that fails as an error and keeps the previous object', async () => {
    const p = ns();
    await store.put(`${p}k`, 'previous');
    const failing = Readable.from(
      (async function* chunks() {
        yield Buffer.from('partial');
        throw new Error('source broke');
      })(),
    );
    await expect(store.put(`${p}k`, failing)).rejects.toThrow(/source broke/);
    expect(await text(store, `${p}k`)).toBe('previous');
  });
});
