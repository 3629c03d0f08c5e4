import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { S3ObjectStore } from '../../packages/host/src/storage/s3-store.js';
import { dataOf, docker, startTestHost, type TestHost } from '../support/host.js';

const bash = (command: string): string =>
  `MOCK:${JSON.stringify({ tool: 'Bash', input: { command } })}`;

describe('incremental sync against S3 (s3rver)', () => {
  let host: TestHost;
  const log: { op: string; key?: string }[] = [];

  beforeAll(async () => {
    const objects = new S3ObjectStore({
      bucket: inject('s3Bucket'),
      endpoint: inject('s3Endpoint'),
      prefix: `sync-e2e-${randomBytes(4).toString('hex')}`,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      onRequest: (op, key) => log.push({ op, ...(key !== undefined ? { key } : {}) }),
    });
    host = await startTestHost({ options: { objects } });
  });
  afterAll(async () => {
    await host?.close();
  });

  it('uploads only what a run changed and deletes what it deleted', async () => {
    const { workspaceId, conversationId } = await host.conversation();
    for (const [name, body] of [
      ['a.txt', 'alpha\n'],
      ['b.txt', 'bravo\n'],
      ['c.txt', 'charlie\n'],
    ]) {
      expect(
        (await host.api(`/v1/workspaces/${workspaceId}/files/${name}`, { method: 'PUT', body }))
          .status,
      ).toBe(201);
    }
    const warmup = await host.send(conversationId, 'MOCK:{"text": "ready"}');
    expect(warmup.at(-1)?.event).toBe('run.completed');

    // File bytes are content-addressed: a changed or new file is one blob named by its sha256.
    const blobsPrefix = `tenants/${host.tenant}/blobs/`;
    const blobKey = (body: string): string => {
      const sha = createHash('sha256').update(body).digest('hex');
      return `${blobsPrefix}${sha.slice(0, 2)}/${sha}`;
    };
    log.length = 0;
    const events = await host.send(
      conversationId,
      bash('echo more >> a.txt && rm b.txt && echo delta > d.txt'),
    );
    expect(events.at(-1)?.event).toBe('run.completed');

    const blobOps = log.filter((r) => r.key?.startsWith(blobsPrefix));
    const uploads = blobOps
      .filter((r) => ['PutObject', 'CreateMultipartUpload', 'CopyObject'].includes(r.op))
      .map((r) => r.key);
    expect(uploads.sort()).toEqual([blobKey('alpha\nmore\n'), blobKey('delta\n')].sort());
    // A deleted file's bytes stay while a snapshot names them; the blob collector removes them.
    expect(blobOps.filter((r) => r.op.startsWith('Delete'))).toEqual([]);
    expect(log.filter((r) => r.op === 'DeleteObjects')).toEqual([]);
    expect(await host.workcell.objects.head(blobKey('bravo\n'))).not.toBeNull();
    expect(blobOps.filter((r) => r.op === 'GetObject')).toEqual([]);

    const list = await host.wc.files.list(workspaceId);
    expect(list.map((f) => f.path).sort()).toEqual(['a.txt', 'c.txt', 'd.txt']);
    expect(await (await host.api(`/v1/workspaces/${workspaceId}/files/a.txt`)).text()).toBe(
      'alpha\nmore\n',
    );
    expect(await (await host.api(`/v1/workspaces/${workspaceId}/files/d.txt`)).text()).toBe(
      'delta\n',
    );

    // A run that changes nothing makes no per-file request.
    log.length = 0;
    await host.send(conversationId, 'MOCK:{"text": "idle"}');
    expect(log.filter((r) => r.key?.startsWith(blobsPrefix))).toEqual([]);
  });
});

describe('hostile workspace content', () => {
  let host: TestHost;
  beforeAll(async () => {
    host = await startTestHost({ maxFileBytes: 8 * 1024 * 1024 });
  });
  afterAll(async () => {
    await host?.close();
  });

  it('never syncs a symlink target, a FIFO or an oversized file, and finishes', async () => {
    const { workspaceId, conversationId } = await host.conversation();
    const script = [
      'ln -s /etc/shadow leak',
      'ln -s /etc/hostname hostname-link',
      'ln -s ../../.. up',
      'mkfifo pipe',
      'truncate -s 1G sparse.bin',
      'echo fine > fine.txt',
    ].join(' && ');
    const started = Date.now();
    const events = await host.send(conversationId, bash(script));
    expect(events.at(-1)?.event).toBe('run.completed');
    expect(Date.now() - started).toBeLessThan(60_000);

    const files = await host.wc.files.list(workspaceId);
    expect(files.map((f) => f.path)).toEqual(['fine.txt']);

    // Nothing stored for the workspace holds bytes of the host's files the links point at.
    const hostSecrets = ['/etc/shadow', '/etc/hostname', '/etc/passwd']
      .map((p) => {
        try {
          return readFileSync(p, 'utf8').split('\n')[0] ?? '';
        } catch {
          return '';
        }
      })
      .filter((line) => line.length >= 4);
    expect(hostSecrets.length).toBeGreaterThan(0);
    const stored = await host.workcell.objects.list(
      `tenants/${host.tenant}/workspaces/${workspaceId}/`,
    );
    let total = 0;
    for (const o of stored) {
      const bytes = (await host.workcell.objects.getBuffer(o.key)) ?? Buffer.alloc(0);
      total += bytes.length;
      for (const secret of hostSecrets)
        expect(bytes.includes(secret), `${o.key} holds host bytes`).toBe(false);
    }
    expect(total).toBeLessThan(5 * 1024 * 1024);
    const warned = host.logs.filter((l) => l.includes('sync out skipped an entry')).join('\n');
    expect(warned).toContain('sparse.bin');
    expect(warned).toContain('pipe');
  });
});

describe('resume in a new container', () => {
  let host: TestHost;
  beforeAll(async () => {
    host = await startTestHost();
  });
  afterAll(async () => {
    await host?.close();
  });

  const containerOf = async (workspaceId: string): Promise<string> =>
    (await host.wc.workspaces.get(workspaceId)).container?.id ?? '';

  it('resumes the same SDK session, with its history, after the container is removed', async () => {
    const { workspaceId, conversationId } = await host.conversation();
    const first = await host.send(conversationId, 'MOCK:{"text": "remember me"}');
    expect(first.at(-1)?.event).toBe('run.completed');
    const sessionId = dataOf<{ sessionId: string }>(first, 'run.completed')[0]?.sessionId;
    expect(sessionId).toMatch(/[0-9a-f-]{36}/);
    const oldContainer = await containerOf(workspaceId);
    await host.workcell.orchestrator.remove(oldContainer, 'test removes it');

    const second = await host.send(conversationId, 'MOCK:{"report": "turns"}');
    expect(second.at(-1)?.event).toBe('run.completed');
    const init = dataOf<{ type: string; subtype?: string; session_id: string }>(
      second,
      'message',
    ).find((m) => m.type === 'system' && m.subtype === 'init');
    expect(init?.session_id).toBe(sessionId);
    expect(dataOf<{ result: string }>(second, 'run.completed')[0]?.result).toBe(
      'prior_user_turns=1',
    );
    expect(await containerOf(workspaceId)).not.toBe(oldContainer);
    const conversation = await host.wc.conversations.get(conversationId);
    expect(conversation.sessionId).toBe(sessionId);
  });

  it('fails with session_lost, never a silent fresh conversation, when the transcript is gone', async () => {
    const { workspaceId, conversationId } = await host.conversation();
    expect((await host.send(conversationId, 'MOCK:{"text": "one"}')).at(-1)?.event).toBe(
      'run.completed',
    );
    await host.workcell.orchestrator.remove(await containerOf(workspaceId), 'test removes it');
    await host.workcell.objects.deletePrefix(
      `tenants/${host.tenant}/workspaces/${workspaceId}/sessions/`,
    );
    await host.workcell.objects.delete(
      `tenants/${host.tenant}/workspaces/${workspaceId}/sessions-manifest.json`,
    );

    const events = await host.send(conversationId, 'MOCK:{"text": "two"}');
    expect(events.at(-1)?.event).toBe('run.failed');
    expect(dataOf<{ code: string }>(events, 'run.failed')[0]?.code).toBe('session_lost');

    // Having been told, the client's next message starts a new session.
    const next = await host.send(conversationId, 'MOCK:{"report": "turns"}');
    expect(next.at(-1)?.event).toBe('run.completed');
    expect(dataOf<{ result: string }>(next, 'run.completed')[0]?.result).toBe('prior_user_turns=0');
  });
});

describe('the files API and an assigned container agree', () => {
  let host: TestHost;
  beforeAll(async () => {
    host = await startTestHost({ idleTimeoutMs: 1000, gcIntervalMs: 3_600_000 });
  });
  afterAll(async () => {
    await host?.close();
  });

  it('puts and deletes reach /workspace at once, and the final sync out keeps them', async () => {
    const { workspaceId, conversationId } = await host.conversation();
    await host.api(`/v1/workspaces/${workspaceId}/files/old.txt`, { method: 'PUT', body: 'old\n' });
    expect((await host.send(conversationId, 'MOCK:{"text": "hi"}')).at(-1)?.event).toBe(
      'run.completed',
    );
    const containerId = (await host.wc.workspaces.get(workspaceId)).container?.id ?? '';

    expect(
      (
        await host.api(`/v1/workspaces/${workspaceId}/files/new.txt`, {
          method: 'PUT',
          body: 'added between runs\n',
        })
      ).status,
    ).toBe(201);
    expect(
      (await host.api(`/v1/workspaces/${workspaceId}/files/old.txt`, { method: 'DELETE' })).status,
    ).toBe(204);
    expect(await docker('exec', containerId, 'cat', '/workspace/new.txt')).toBe(
      'added between runs\n',
    );
    expect(await docker('exec', containerId, 'sh', '-c', 'ls /workspace')).toBe('new.txt\n');

    // The idle container is synced out and removed; the change made through the API survives.
    await new Promise((r) => setTimeout(r, 1200));
    const report = await host.workcell.gc.runOnce();
    expect(report.removed.map((r) => r.id)).toContain(containerId);
    const files = await host.wc.files.list(workspaceId);
    expect(files.map((f) => f.path)).toEqual(['new.txt']);
    expect(await (await host.api(`/v1/workspaces/${workspaceId}/files/new.txt`)).text()).toBe(
      'added between runs\n',
    );
  });
});
