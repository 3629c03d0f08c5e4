import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { WorkcellApiError } from '@workcell/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { S3ObjectStore } from '../../packages/host/src/storage/s3-store.js';
import * as yauzl from 'yauzl';
import { readTarGz, tarGzOf, tarOf, zipOf, type ReadFile } from '../support/archives.js';
import { startTestHost, type TestHost } from '../support/host.js';

const MiB = 1024 * 1024;
const run = promisify(execFile);

const bash = (command: string): string =>
  `MOCK:${JSON.stringify({ tool: 'Bash', input: { command } })}`;

async function bytesOf(body: ReadableStream<Uint8Array>): Promise<Buffer> {
  return Buffer.from(await new Response(body).arrayBuffer());
}

/** The regular files of a zip, by name, read with yauzl. */
async function readZip(data: Buffer): Promise<Map<string, ReadFile>> {
  const zip = await yauzl.fromBufferPromise(data, { lazyEntries: true });
  const files = new Map<string, ReadFile>();
  for await (const entry of zip.eachEntry()) {
    if (entry.fileName.endsWith('/')) continue;
    const stream = await zip.openReadStreamPromise(entry);
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    files.set(entry.fileName, {
      body: Buffer.concat(chunks),
      mode: (entry.externalFileAttributes >>> 16) & 0o777,
    });
  }
  return files;
}

const textOf = (files: Map<string, ReadFile>): Record<string, string> =>
  Object.fromEntries([...files].map(([name, f]) => [name, f.body.toString('utf8')]));

describe('workspace archives', () => {
  let host: TestHost;

  beforeAll(async () => {
    host = await startTestHost({
      maxFileBytes: 4 * MiB,
      archiveMaxBytes: 16 * MiB,
      archiveMaxUnpackedBytes: 8 * MiB,
      archiveMaxEntries: 50,
      archiveMaxRatio: 50,
    });
  });
  afterAll(async () => {
    await host?.close();
  });

  /** Every object stored for the workspace, with its etag: what "nothing written" compares. */
  const storedObjects = async (wid: string): Promise<string[]> =>
    (await host.workcell.objects.list(`tenants/${host.tenant}/workspaces/${wid}/`)).map(
      (o) => `${o.key} ${o.etag}`,
    );

  const project = [
    { name: './', type: '5' as const },
    { name: './README.md', body: '# demo\n' },
    { name: './src/', type: '5' as const },
    { name: './src/app.py', body: 'print("hi")\n' },
    { name: './bin/run.sh', body: '#!/bin/sh\necho run\n', mode: 0o755 },
    { name: './docs/café.txt', body: 'unicode name\n' },
    { name: './empty.txt', body: '' },
  ];
  const projectText = {
    'README.md': '# demo\n',
    'src/app.py': 'print("hi")\n',
    'bin/run.sh': '#!/bin/sh\necho run\n',
    'docs/café.txt': 'unicode name\n',
    'empty.txt': '',
  };

  it('unpacks a tar.gz through the client and gives the same files back as tar.gz and as zip', async () => {
    const ws = await host.wc.workspaces.create({ name: 'archive-roundtrip' });
    const result = await host.wc.archives.upload(ws.id, tarGzOf(project));
    expect(result).toEqual({ path: '', files: 5, bytes: 7 + 12 + 19 + 13 });
    expect((await host.wc.files.list(ws.id)).map((f) => f.path).sort()).toEqual(
      Object.keys(projectText).sort(),
    );
    expect(await host.wc.files.text(ws.id, 'src/app.py')).toBe('print("hi")\n');

    const tgz = await host.wc.archives.download(ws.id);
    expect(tgz.contentType).toBe('application/gzip');
    const fromTar = readTarGz(await bytesOf(tgz.body));
    expect(textOf(fromTar)).toEqual(projectText);
    expect(fromTar.get('bin/run.sh')?.mode).toBe(0o755);
    expect(fromTar.get('src/app.py')?.mode).toBe(0o644);

    const zip = await host.wc.archives.download(ws.id, { format: 'zip' });
    expect(zip.contentType).toBe('application/zip');
    const fromZip = await readZip(await bytesOf(zip.body));
    expect(textOf(fromZip)).toEqual(projectText);
    expect(fromZip.get('bin/run.sh')?.mode).toBe(0o755);

    // What came out goes back in unchanged: the zip into a second workspace.
    const copy = await host.wc.workspaces.create({ name: 'archive-copy' });
    const zipBytes = await bytesOf(
      (await host.wc.archives.download(ws.id, { format: 'zip' })).body,
    );
    expect(await host.wc.archives.upload(copy.id, zipBytes, { format: 'zip' })).toMatchObject({
      files: 5,
    });
    const original = await host.wc.files.list(ws.id);
    const copied = await host.wc.files.list(copy.id);
    expect(copied.map((f) => [f.path, f.sha256])).toEqual(original.map((f) => [f.path, f.sha256]));
  });

  it('unpacks into a folder (?path=) and downloads one folder with names relative to it', async () => {
    const ws = await host.wc.workspaces.create({ name: 'archive-folder' });
    await host.wc.files.upload(ws.id, 'top.txt', 'top\n');
    const deep = `lib/${'deep/'.repeat(30)}x.txt`;
    const zip = zipOf([
      { name: 'lib/a.js', body: 'export const a = 1;\n' },
      { name: 'lib/', body: '' },
      { name: 'b.txt', body: 'bee\n', deflate: false },
      { name: deep, body: 'deep\n' },
    ]);
    expect(await host.wc.archives.upload(ws.id, zip, { path: 'vendor/pkg' })).toEqual({
      path: 'vendor/pkg',
      files: 3,
      bytes: 20 + 4 + 5,
    });
    expect((await host.wc.files.list(ws.id)).map((f) => f.path).sort()).toEqual([
      'top.txt',
      'vendor/pkg/b.txt',
      'vendor/pkg/lib/a.js',
      `vendor/pkg/${deep}`,
    ]);
    const folder = readTarGz(
      await bytesOf((await host.wc.archives.download(ws.id, { path: 'vendor' })).body),
    );
    expect(textOf(folder)).toEqual({
      'pkg/b.txt': 'bee\n',
      'pkg/lib/a.js': 'export const a = 1;\n',
      [`pkg/${deep}`]: 'deep\n',
    });

    // A later upload replaces files of the same path and keeps the others.
    await host.wc.archives.upload(ws.id, tarOf([{ name: 'b.txt', body: 'bee 2\n' }]), {
      path: 'vendor/pkg',
      format: 'tar',
    });
    expect(await host.wc.files.text(ws.id, 'vendor/pkg/b.txt')).toBe('bee 2\n');
    expect(await host.wc.files.text(ws.id, 'top.txt')).toBe('top\n');
  });

  it('takes what GNU tar and Info-ZIP make, and gives archives they extract to the same tree', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wc-archive-tools-'));
    try {
      const src = join(dir, 'src');
      const tree: Record<string, string> = {
        'README.md': '# tools\n',
        'src/main.c': 'int main(void) { return 0; }\n',
        'bin/go.sh': '#!/bin/sh\necho go\n',
        [`${'long-name-'.repeat(12)}/file.txt`]: 'long\n',
      };
      for (const [path, body] of Object.entries(tree)) {
        mkdirSync(join(src, path, '..'), { recursive: true });
        writeFileSync(join(src, path), body, { mode: path.endsWith('.sh') ? 0o755 : 0o644 });
      }
      await run('tar', ['-C', src, '-czf', join(dir, 'gnu.tgz'), '.']);
      await run('zip', ['-qr', join(dir, 'info.zip'), '.'], { cwd: src });

      const fromTar = await host.wc.workspaces.create({ name: 'archive-gnu-tar' });
      await host.wc.archives.upload(fromTar.id, readFileSync(join(dir, 'gnu.tgz')));
      const fromZip = await host.wc.workspaces.create({ name: 'archive-info-zip' });
      await host.wc.archives.upload(fromZip.id, readFileSync(join(dir, 'info.zip')));
      for (const ws of [fromTar, fromZip]) {
        const listed = await host.wc.files.list(ws.id);
        expect(listed.map((f) => f.path).sort()).toEqual(Object.keys(tree).sort());
      }

      // Downloads extracted by the reference tools give the tree back, executable bit included.
      const tgz = await bytesOf((await host.wc.archives.download(fromTar.id)).body);
      writeFileSync(join(dir, 'out.tgz'), tgz);
      mkdirSync(join(dir, 'out-tar'));
      await run('tar', ['-C', join(dir, 'out-tar'), '-xzf', join(dir, 'out.tgz')]);
      const zipped = await bytesOf(
        (await host.wc.archives.download(fromZip.id, { format: 'zip' })).body,
      );
      writeFileSync(join(dir, 'out.zip'), zipped);
      await run('unzip', ['-q', join(dir, 'out.zip'), '-d', join(dir, 'out-zip')]);
      for (const out of ['out-tar', 'out-zip']) {
        for (const [path, body] of Object.entries(tree))
          expect(readFileSync(join(dir, out, path), 'utf8')).toBe(body);
        expect(statSync(join(dir, out, 'bin/go.sh')).mode & 0o111).not.toBe(0);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each([
    ['../etc', 'invalid_path', 400],
    ['/etc', 'invalid_path', 400],
    ['a/../../b', 'invalid_path', 400],
    ['a\\b', 'invalid_path', 400],
    ['.workcell', 'invalid_path', 400],
    ['no-such-folder', 'not_found', 404],
  ])('refuses to download ?path=%s with %s', async (path, code, status) => {
    const ws = await host.wc.workspaces.create({ name: 'archive-path' });
    await host.wc.files.upload(ws.id, 'a/b.txt', 'b\n');
    const res = await host.api(`/v1/workspaces/${ws.id}/archive?path=${encodeURIComponent(path)}`);
    expect(res.status).toBe(status);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe(code);
  });

  const big = (bytes: number): Buffer => randomBytes(bytes);
  const first = { name: 'first.txt', body: 'a good entry before the bad one\n' };
  const firstZip = { name: 'first.txt', body: 'a good entry before the bad one\n' };

  /** Each hostile archive: its body, the content type sent and the code it must get. */
  const HOSTILE: [string, () => Buffer, string, string, number][] = [
    [
      'tar entry ../escape',
      () => tarOf([first, { name: '../escape.txt', body: 'x' }]),
      'application/x-tar',
      'archive_unsafe_path',
      400,
    ],
    [
      'tar entry a/../../escape',
      () => tarOf([first, { name: 'a/../../escape.txt', body: 'x' }]),
      'application/x-tar',
      'archive_unsafe_path',
      400,
    ],
    [
      'tar.gz absolute entry /tmp/abs',
      () => tarGzOf([first, { name: '/tmp/abs.txt', body: 'x' }]),
      'application/gzip',
      'archive_unsafe_path',
      400,
    ],
    [
      'tar entry under .workcell',
      () => tarOf([first, { name: '.workcell/state', body: 'x' }]),
      'application/octet-stream',
      'archive_unsafe_path',
      400,
    ],
    [
      'zip entry with backslashes ..\\escape',
      () => zipOf([firstZip, { name: '..\\escape.txt', body: 'x' }]),
      'application/zip',
      'archive_unsafe_path',
      400,
    ],
    [
      'zip entry on a Windows drive C:/x',
      () => zipOf([firstZip, { name: 'C:/Windows/x.txt', body: 'x' }]),
      'application/zip',
      'archive_unsafe_path',
      400,
    ],
    [
      'zip entry C:\\x',
      () => zipOf([firstZip, { name: 'C:\\x.txt', body: 'x' }]),
      'application/zip',
      'archive_unsafe_path',
      400,
    ],
    [
      'zip entry whose name is not UTF-8',
      () => zipOf([firstZip, { name: Buffer.from([0x61, 0xff, 0x2e]), body: 'x' }]),
      'application/zip',
      'archive_unsafe_path',
      400,
    ],
    [
      'tar symlink out of the tree',
      () => tarOf([first, { name: 'leak', type: '2', linkname: '/etc/passwd' }]),
      'application/x-tar',
      'archive_link_refused',
      400,
    ],
    [
      'tar symlink inside the tree',
      () => tarOf([first, { name: 'alias', type: '2', linkname: 'first.txt' }]),
      'application/x-tar',
      'archive_link_refused',
      400,
    ],
    [
      'tar.gz symlink then a file through it',
      () =>
        tarGzOf([
          first,
          { name: 'up', type: '2', linkname: '../../..' },
          { name: 'up/escape.txt', body: 'x' },
        ]),
      'application/gzip',
      'archive_link_refused',
      400,
    ],
    [
      'tar hard link',
      () => tarOf([first, { name: 'hard', type: '1', linkname: '/etc/shadow' }]),
      'application/x-tar',
      'archive_link_refused',
      400,
    ],
    [
      'zip symlink',
      () => zipOf([firstZip, { name: 'leak', body: '/etc/passwd', unixMode: 0o120777 }]),
      'application/zip',
      'archive_link_refused',
      400,
    ],
    [
      'tar character device',
      () => tarOf([first, { name: 'null', type: '3' }]),
      'application/x-tar',
      'archive_special_file',
      400,
    ],
    [
      'tar block device',
      () => tarOf([first, { name: 'sda', type: '4' }]),
      'application/x-tar',
      'archive_special_file',
      400,
    ],
    [
      'tar fifo',
      () => tarOf([first, { name: 'pipe', type: '6' }]),
      'application/x-tar',
      'archive_special_file',
      400,
    ],
    [
      'tar entry of an unknown type (GNU sparse)',
      () => tarOf([first, { name: 'sparse.bin', type: 'S', body: 'x' }]),
      'application/x-tar',
      'archive_special_file',
      400,
    ],
    [
      'zip fifo',
      () => zipOf([firstZip, { name: 'pipe', body: '', unixMode: 0o010644 }]),
      'application/zip',
      'archive_special_file',
      400,
    ],
    [
      'tar path twice',
      () => tarOf([first, { name: 'first.txt', body: 'again' }]),
      'application/x-tar',
      'archive_duplicate_path',
      400,
    ],
    [
      'tar file then a file under it',
      () => tarOf([first, { name: 'first.txt/inner', body: 'x' }]),
      'application/x-tar',
      'archive_duplicate_path',
      400,
    ],
    [
      'tar folder then a file of that name',
      () => tarOf([first, { name: 'dir/a', body: 'x' }, { name: 'dir', body: 'x' }]),
      'application/x-tar',
      'archive_duplicate_path',
      400,
    ],
    [
      'zip path twice',
      () => zipOf([firstZip, firstZip]),
      'application/zip',
      'archive_duplicate_path',
      400,
    ],
    [
      'tar file under a workspace file',
      () => tarOf([first, { name: 'keep.txt/inner', body: 'x' }]),
      'application/x-tar',
      'conflict',
      409,
    ],
    [
      'zip bomb (compression ratio)',
      () => zipOf([firstZip, { name: 'zeros.bin', body: Buffer.alloc(3 * MiB) }]),
      'application/zip',
      'archive_too_large',
      413,
    ],
    [
      'tar.gz bomb (compression ratio)',
      () => tarGzOf([first, { name: 'zeros.bin', body: Buffer.alloc(3 * MiB) }]),
      'application/gzip',
      'archive_too_large',
      413,
    ],
    [
      'tar past the unpacked-size limit',
      () => tarOf([first, ...[1, 2, 3].map((i) => ({ name: `part${i}.bin`, body: big(3 * MiB) }))]),
      'application/x-tar',
      'archive_too_large',
      413,
    ],
    [
      'tar past the entry limit',
      () =>
        tarOf([
          first,
          ...Array.from({ length: 60 }, (_, i) => ({ name: `many/${i}.txt`, body: `${i}` })),
        ]),
      'application/x-tar',
      'archive_too_large',
      413,
    ],
    [
      'zip with a file past the file-size limit',
      () => zipOf([firstZip, { name: 'huge.bin', body: big(5 * MiB), deflate: false }]),
      'application/zip',
      'archive_too_large',
      413,
    ],
    [
      'bytes that are no archive',
      () => Buffer.from('just some text, not an archive\n'.repeat(40)),
      'application/octet-stream',
      'archive_invalid',
      400,
    ],
    [
      'a tar.gz cut short',
      () => tarGzOf([first, { name: 'b.bin', body: big(64 * 1024) }]).subarray(0, 20_000),
      'application/gzip',
      'archive_invalid',
      400,
    ],
    ['a gzip declared as zip', () => tarGzOf([first]), 'application/zip', 'archive_invalid', 400],
    [
      'a JSON body',
      () => Buffer.from('{"not": "an archive"}'),
      'application/json',
      'unsupported_media_type',
      415,
    ],
    [
      'a body past WORKCELL_ARCHIVE_MAX_BYTES',
      () => big(17 * MiB),
      'application/x-tar',
      'payload_too_large',
      413,
    ],
  ];

  it.each(HOSTILE)(
    'refuses %s and writes nothing',
    async (_name, build, contentType, code, status) => {
      const ws = await host.wc.workspaces.create({ name: 'archive-hostile' });
      await host.wc.files.upload(ws.id, 'keep.txt', 'kept\n');
      const before = await storedObjects(ws.id);
      const res = await host.api(`/v1/workspaces/${ws.id}/archive`, {
        method: 'POST',
        headers: { 'content-type': contentType },
        body: new Uint8Array(build()),
      });
      const answer = (await res.json()) as { error: { code: string; message: string } };
      expect(answer.error.code, answer.error.message).toBe(code);
      expect(res.status).toBe(status);
      expect(await storedObjects(ws.id)).toEqual(before);
      expect((await host.wc.files.list(ws.id)).map((f) => f.path)).toEqual(['keep.txt']);
    },
  );

  it('refuses a hostile archive through the client with its code', async () => {
    const ws = await host.wc.workspaces.create({ name: 'archive-client-hostile' });
    const err = await host.wc.archives
      .upload(ws.id, tarGzOf([{ name: '../../escape.txt', body: 'x' }]))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkcellApiError);
    expect((err as WorkcellApiError).code).toBe('archive_unsafe_path');
    expect(await host.wc.files.list(ws.id)).toEqual([]);
  });

  it('answers workspace_busy while a run is in progress, then unpacks into the idle container the agent reads', async () => {
    const { workspaceId, conversationId } = await host.conversation();
    const run = await host.wc.conversations.start(conversationId, 'MOCK:{"sleep_ms": 6000}');
    // Wait until the run holds the workspace (its container is assigned and running).
    for (let i = 0; i < 200; i += 1) {
      const detail = await host.wc.workspaces.get(workspaceId);
      if (detail.container?.state === 'running') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const body = tarGzOf([{ name: 'during.txt', body: 'during the run\n' }]);
    const busy = await host.api(`/v1/workspaces/${workspaceId}/archive`, {
      method: 'POST',
      headers: { 'content-type': 'application/gzip' },
      body: new Uint8Array(body),
    });
    expect(busy.status).toBe(409);
    expect(((await busy.json()) as { error: { code: string } }).error.code).toBe('workspace_busy');
    const events = await host.wc.conversations.events(conversationId, run.runId).toArray();
    expect(events.at(-1)?.event).toBe('run.completed');
    expect((await host.wc.files.list(workspaceId)).map((f) => f.path)).not.toContain('during.txt');

    // Between runs the container is idle: an upload reaches it at once.
    const marker = randomBytes(8).toString('hex');
    await host.wc.archives.upload(
      workspaceId,
      tarGzOf([{ name: 'pkg/marker.txt', body: `${marker}\n` }]),
    );
    const read = await host.send(conversationId, bash('cat pkg/marker.txt'));
    expect(read.at(-1)?.event).toBe('run.completed');
    expect(JSON.stringify(read)).toContain(marker);
  });
});

describe('workspace archives on S3 (s3rver)', () => {
  let host: TestHost;

  beforeAll(async () => {
    const objects = new S3ObjectStore({
      bucket: inject('s3Bucket'),
      endpoint: inject('s3Endpoint'),
      prefix: `archive-${randomBytes(4).toString('hex')}`,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });
    host = await startTestHost({ options: { objects } });
  });
  afterAll(async () => {
    await host?.close();
  });

  it('unpacks into the S3 store and streams the same bytes back as tar.gz and zip', async () => {
    const ws = await host.wc.workspaces.create({ name: 'archive-s3' });
    const blob = randomBytes(3 * MiB);
    const upload = tarGzOf([
      { name: 'data/blob.bin', body: blob },
      { name: 'notes.txt', body: 'on s3\n' },
    ]);
    expect(await host.wc.archives.upload(ws.id, upload)).toMatchObject({ files: 2 });
    const fromTar = readTarGz(await bytesOf((await host.wc.archives.download(ws.id)).body));
    expect(fromTar.get('data/blob.bin')?.body.equals(blob)).toBe(true);
    expect(fromTar.get('notes.txt')?.body.toString()).toBe('on s3\n');
    const fromZip = await readZip(
      await bytesOf((await host.wc.archives.download(ws.id, { format: 'zip' })).body),
    );
    expect(fromZip.get('data/blob.bin')?.body.equals(blob)).toBe(true);
  });
});
