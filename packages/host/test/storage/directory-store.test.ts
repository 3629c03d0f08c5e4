import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DirectoryObjectStore } from '../../src/storage/directory-store.js';

async function tree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true });
  return entries.map(String).sort();
}

describe('DirectoryObjectStore', () => {
  let dataDir: string;
  let store: DirectoryObjectStore;

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'workcell-dirstore-'));
    store = DirectoryObjectStore.forDataDir(dataDir);
  });

  afterEach(async () => {
    await store.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('keeps objects under <data dir>/objects and names itself after it', async () => {
    await store.put('a/b.txt', 'x');
    expect(store.description).toBe(`dir:${join(dataDir, 'objects')}`);
    expect(await readdir(dataDir)).toEqual(['objects']);
    await store.ping();
  });

  it('uses the sha256 of the bytes as the etag', async () => {
    const info = await store.put('k', 'hello');
    expect(info.etag).toBe('2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824');
    expect((await store.head('k'))?.etag).toBe(info.etag);
  });

  it('never lists its temporary or internal files', async () => {
    await store.put('ws/file', 'bytes');
    // A temporary file left by a writer that died, next to a real object.
    await writeFile(join(dataDir, 'objects', 'ws', 'file', '.workcell-tmp-dead'), 'partial');
    expect((await store.list('')).map((i) => i.key)).toEqual(['ws/file']);
    expect((await store.list('ws/file')).map((i) => i.key)).toEqual(['ws/file']);
    expect(await store.deletePrefix('')).toBe(1);
  });

  it('leaves no temporary file when a streamed write fails', async () => {
    await store.put('k', 'old');
    const failing = Readable.from(
      (async function* chunks() {
        yield Buffer.alloc(1024, 1);
        throw new Error('client went away');
      })(),
    );
    await expect(store.put('k', failing)).rejects.toMatchObject({ code: 'dependency_unavailable' });
    expect((await tree(join(dataDir, 'objects'))).filter((p) => p.includes('tmp'))).toEqual([]);
    expect((await store.getBuffer('k'))?.toString()).toBe('old');
  });

  it('refuses a body shorter or longer than the announced length', async () => {
    await expect(
      store.put('k', Readable.from([Buffer.from('abc')]), { contentLength: 4 }),
    ).rejects.toMatchObject({
      code: 'bad_request',
    });
    expect(await store.head('k')).toBeNull();
  });

  it('removes directories that deletes leave empty, and only those', async () => {
    await store.put('a/b/c/d', '1');
    await store.put('a/x', '2');
    await store.delete('a/b/c/d');
    expect(await tree(join(dataDir, 'objects'))).toEqual(['a', 'a/x', 'a/x/.workcell-object']);
    await store.deletePrefix('a/');
    expect(await readdir(join(dataDir, 'objects'))).toEqual([]);
  });

  it('never touches anything outside its root', async () => {
    const outside = join(dataDir, 'outside');
    await writeFile(outside, 'keep');
    for (const key of ['../outside', 'a/../../outside', '/etc/passwd', 'a/./../outside']) {
      await expect(store.put(key, 'x')).rejects.toMatchObject({ code: 'invalid_path' });
      await expect(store.delete(key)).rejects.toMatchObject({ code: 'invalid_path' });
    }
    expect((await stat(outside)).size).toBe(4);
  });

  it('writes every version whole while readers read', async () => {
    const a = Buffer.alloc(512 * 1024, 'a');
    const b = Buffer.alloc(300 * 1024, 'b');
    await store.put('k', a);
    const reads: Promise<Buffer | null>[] = [];
    const writes: Promise<unknown>[] = [];
    for (let i = 0; i < 20; i += 1) {
      writes.push(store.put('k', i % 2 === 0 ? b : a));
      reads.push(store.getBuffer('k'));
    }
    await Promise.all(writes);
    for (const read of await Promise.all(reads)) {
      expect(read !== null && (read.equals(a) || read.equals(b))).toBe(true);
    }
  });
});
