import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buffer } from 'node:stream/consumers';
import { afterEach, describe, expect, it } from 'vitest';
import { Catalog } from '../../packages/host/src/catalog/catalog.js';
import {
  DirectoryObjectStore,
  workspaceFilesPrefix,
  workspaceManifestKey,
} from '../../packages/host/src/storage/index.js';
import { tenantBlobs } from '../../packages/host/src/sync/content.js';
import { getWorkspaceFile } from '../../packages/host/src/sync/workspace-files.js';
import { docker, removeDataDir } from '../support/host.js';
import type { SseEvent } from '../support/sse.js';
import { freePort } from '../state/redis-server.js';
import { isTerminal, sseEvents } from './sse-stream.js';

const REPO = join(import.meta.dirname, '..', '..');

interface Served {
  child: ChildProcess;
  url: string;
  token: string;
  tenant: string;
  dataDir: string;
  hostId: string;
  output: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  api(path: string, init?: RequestInit): Promise<Response>;
}

/** `workcell serve --mock-model` as its own process, from source, on a fresh data directory. */
async function serve(): Promise<Served> {
  const dataDir = mkdtempSync(join(tmpdir(), 'workcell-shutdown-'));
  const port = await freePort();
  const token = `tok_${randomBytes(16).toString('hex')}`;
  const tenant = `t${randomBytes(4).toString('hex')}`;
  const hostId = `test-${randomBytes(4).toString('hex')}`;
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'packages/host/src/cli/run.ts', 'serve', '--mock-model'],
    {
      cwd: REPO,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: process.env.HOME ?? '/root',
        TSX_TSCONFIG_PATH: 'tsconfig.check.json',
        WORKCELL_PORT: String(port),
        WORKCELL_HOST: '127.0.0.1',
        WORKCELL_DATA_DIR: dataDir,
        WORKCELL_API_TOKENS: `${token}=${tenant}`,
        WORKCELL_HOST_ID: hostId,
        WORKCELL_WARM_POOL_SIZE: '0',
        WORKCELL_CONTAINER_MEMORY_MB: '1024',
        WORKCELL_LOG_LEVEL: 'info',
        // A checkout testing its own build of the workspace image names it here.
        ...(process.env.WORKCELL_IMAGE ? { WORKCELL_IMAGE: process.env.WORKCELL_IMAGE } : {}),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    const ok = await fetch(`${url}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (child.exitCode !== null || Date.now() > deadline)
      throw new Error(`workcell serve did not start:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const api = (path: string, init: RequestInit = {}): Promise<Response> => {
    const headers = new Headers(init.headers);
    headers.set('authorization', `Bearer ${token}`);
    if (typeof init.body === 'string') headers.set('content-type', 'application/json');
    return fetch(`${url}${path}`, { ...init, headers });
  };
  return { child, url, token, tenant, dataDir, hostId, output: () => output, exit, api };
}

async function conversation(s: Served): Promise<{ workspaceId: string; conversationId: string }> {
  const ws = (await (await s.api('/v1/workspaces', { method: 'POST', body: '{}' })).json()) as {
    id: string;
  };
  const conv = (await (
    await s.api(`/v1/workspaces/${ws.id}/conversations`, { method: 'POST', body: '{}' })
  ).json()) as { id: string };
  return { workspaceId: ws.id, conversationId: conv.id };
}

describe('graceful shutdown of workcell serve', () => {
  let served: Served | null = null;

  afterEach(async () => {
    const s = served;
    served = null;
    if (!s) return;
    if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGKILL');
    await s.exit;
    const leftovers = await docker(
      'ps',
      '-aq',
      '--filter',
      `label=workcell.host=${s.hostId}`,
    ).catch(() => '');
    for (const id of leftovers.split('\n').filter(Boolean))
      await docker('rm', '-f', id).catch(() => '');
    await removeDataDir(s.dataDir);
  });

  it('SIGTERM during a run: the run completes, its files are synced, new runs are refused, the process exits 0', async () => {
    served = await serve();
    const s = served;
    const { workspaceId, conversationId } = await conversation(s);
    const prompt = [
      'MOCK:{"tool": "Write", "input": {"file_path": "made-before-shutdown.txt", "content": "kept\\n"}}',
      'MOCK:{"sleep_ms": 2500}',
      'MOCK:{"text": "finished after the signal"}',
    ].join('\n');
    const res = await s.api(`/v1/conversations/${conversationId}/messages`, {
      method: 'POST',
      headers: { accept: 'text/event-stream' },
      body: JSON.stringify({ content: prompt }),
    });
    expect(res.status).toBe(200);

    const events: SseEvent[] = [];
    let signalled = false;
    for await (const e of sseEvents(res)) {
      events.push(e);
      const m = e.event === 'message' ? (JSON.parse(e.data) as { type: string }) : null;
      // The Write tool has run (its result came back): the agent now waits on the model.
      if (!signalled && m?.type === 'user') {
        signalled = true;
        s.child.kill('SIGTERM');
        await new Promise((r) => setTimeout(r, 300));
        const refused = await s.api(`/v1/conversations/${conversationId}/messages`, {
          method: 'POST',
          body: JSON.stringify({ content: 'more' }),
        });
        expect(refused.status).toBe(503);
        expect(((await refused.json()) as { error: { code: string } }).error.code).toBe(
          'shutting_down',
        );
        expect((await fetch(`${s.url}/readyz`)).status).toBe(503);
      }
      if (isTerminal(e)) break;
    }
    expect(signalled).toBe(true);
    expect(events.at(-1)?.event).toBe('run.completed');
    expect(JSON.parse(events.at(-1)?.data ?? '{}')).toMatchObject({
      interrupted: false,
      result: 'finished after the signal',
    });

    const exit = await s.exit;
    expect({ ...exit, output: exit.code === 0 ? '' : s.output() }).toEqual({
      code: 0,
      signal: null,
      output: '',
    });

    // The data directory holds the file the run wrote and the run's record.
    const objects = DirectoryObjectStore.forDataDir(s.dataDir);
    const file = await getWorkspaceFile({
      store: objects,
      filesPrefix: workspaceFilesPrefix(s.tenant, workspaceId),
      manifestKey: workspaceManifestKey(s.tenant, workspaceId),
      blobs: tenantBlobs(s.tenant),
      path: 'made-before-shutdown.txt',
    });
    expect(file === null ? null : (await buffer(file.body)).toString()).toBe('kept\n');
    const catalog = new Catalog(objects);
    const conv = await catalog.getConversation(s.tenant, conversationId);
    expect(conv.runs.map((r) => r.status)).toEqual(['completed']);
    expect(
      (await catalog.readRunEvents(conv, conv.runs[0]?.id ?? '')).map((e) => e.event).at(-1),
    ).toBe('run.completed');
  });

  it('a second SIGTERM exits at once, without waiting for the run', async () => {
    served = await serve();
    const s = served;
    const { conversationId } = await conversation(s);
    const accepted = await s.api(`/v1/conversations/${conversationId}/messages`, {
      method: 'POST',
      body: JSON.stringify({ content: 'MOCK:{"sleep_ms": 30000}' }),
    });
    expect(accepted.status).toBe(202);
    s.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    expect(s.child.exitCode).toBeNull();
    const second = Date.now();
    s.child.kill('SIGTERM');
    const exit = await s.exit;
    expect(Date.now() - second).toBeLessThan(1_000);
    expect(exit.code).not.toBe(0);
  });
});
