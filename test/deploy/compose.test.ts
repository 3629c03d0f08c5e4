import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { docker } from '../support/host.js';
import { readSse } from '../support/sse.js';
import { run, type ExecResult } from '../security/support.js';

/**
 * The deployment a new user runs: docker-compose.yml with the offline override (no image
 * registry answers here, so Redis, the S3 store, the hosts and HAProxy are built from the local
 * Debian base), brought up with `docker-compose up -d --build` and the `scale` profile (a second
 * host and HAProxy in front of both), messages through a host and through the balancer with the
 * mock model, and the stack torn down. Image builds use Docker's layer cache; the first build on a
 * machine takes several minutes, later ones seconds when nothing changed.
 */

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const FILES = ['-f', 'docker-compose.yml', '-f', 'docker-compose.offline.yml'];
const TEST_IMAGE = 'workcell/workspace:compose-test';
/** The local Debian base every offline image builds on (image/build-base.sh). */
const OFFLINE_BASE = 'workcell/base:bookworm';

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() =>
        typeof addr === 'object' && addr ? res(addr.port) : rej(new Error('no port')),
      );
    });
  });
}

/** Certificates this machine adds to the system store (TLS inspection), for npm in builds. */
function localCertificates(): string {
  const dir = '/usr/local/share/ca-certificates';
  if (!existsSync(dir)) return '';
  return readdirSync(dir)
    .filter((f) => f.endsWith('.crt'))
    .map((f) => readFileSync(join(dir, f), 'utf8'))
    .join('\n');
}

describe('docker-compose: the whole stack from docker-compose.yml + docker-compose.offline.yml', () => {
  const project = `wcc${randomBytes(4).toString('hex')}`;
  const token = `tok_${randomBytes(16).toString('hex')}`;
  let dataDir: string;
  let dataDirB: string;
  let env: NodeJS.ProcessEnv;
  let baseUrl: string;
  let balancerUrl: string;
  let workspaceId: string;

  const compose = async (args: string[], timeoutMs = 120_000): Promise<ExecResult> => {
    const r = await run('docker-compose', [...FILES, ...args], { env, cwd: ROOT, timeoutMs });
    if (r.code !== 0)
      throw new Error(
        `docker-compose ${args.join(' ')} failed (${r.code}):\n${(r.stdout + r.stderr).slice(-6000)}`,
      );
    return r;
  };

  const api = (path: string, init: RequestInit = {}): Promise<Response> => {
    const headers = new Headers(init.headers);
    headers.set('authorization', `Bearer ${token}`);
    if (typeof init.body === 'string' && !headers.has('content-type'))
      headers.set('content-type', 'application/json');
    return fetch(`${baseUrl}${path}`, { ...init, headers });
  };

  /** Waits until /health answers `ok`. */
  const healthy = async (timeoutMs: number): Promise<Record<string, unknown>> => {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      try {
        const res = await fetch(`${baseUrl}/health`, { signal: AbortSignal.timeout(2_000) });
        const body = (await res.json()) as Record<string, unknown>;
        if (body.status === 'ok') return body;
        last = JSON.stringify(body);
      } catch (err) {
        last = String(err);
      }
      await sleep(500);
    }
    const logs = await compose(['logs', '--tail', '50', 'host']).catch((e: unknown) => ({
      stdout: String(e),
    }));
    throw new Error(`the host never became healthy: ${last}\n${logs.stdout}`);
  };

  beforeAll(async () => {
    // The data directory is bind-mounted at the same path inside the host container, so the
    // paths the host hands the engine for workspace mounts resolve on this machine.
    dataDir = mkdtempSync('/tmp/workcell-compose-');
    dataDirB = mkdtempSync('/tmp/workcell-compose-b-');
    const port = await freePort();
    baseUrl = `http://127.0.0.1:${port}`;
    const balancerPort = await freePort();
    balancerUrl = `http://127.0.0.1:${balancerPort}`;
    env = {
      ...process.env,
      COMPOSE_PROJECT_NAME: project,
      COMPOSE_PROFILES: 'scale',
      WORKCELL_DATA_DIR: dataDir,
      WORKCELL_DATA_DIR_B: dataDirB,
      WORKCELL_PUBLISH_PORT: String(port),
      WORKCELL_BALANCER_PORT: String(balancerPort),
      WORKCELL_API_TOKENS: `${token}=compose`,
      WORKCELL_S3_ACCESS_KEY: 'S3RVER',
      WORKCELL_S3_SECRET_KEY: randomBytes(16).toString('hex'),
      WORKCELL_SERVE_FLAGS: '--mock-model',
      WORKCELL_HOST_ID: project,
      WORKCELL_WARM_POOL_SIZE: '1',
      WORKCELL_IMAGE: TEST_IMAGE,
      WORKCELL_BUILD_CA_PEM: localCertificates(),
    };
    const base = await run('docker', ['image', 'inspect', OFFLINE_BASE], { timeoutMs: 30_000 });
    if (base.code !== 0) {
      const built = await run(join(ROOT, 'image', 'build-base.sh'), [OFFLINE_BASE], {
        timeoutMs: 10 * 60_000,
      });
      if (built.code !== 0)
        throw new Error(`building ${OFFLINE_BASE} failed: ${built.stdout}${built.stderr}`);
    }
    const started = Date.now();
    await compose(['up', '-d', '--build'], 20 * 60_000);
    console.log(`[compose] up --build took ${((Date.now() - started) / 1000).toFixed(1)} s`);
    await healthy(60_000);
  }, 22 * 60_000);

  afterAll(async () => {
    if (env)
      await compose(['down', '-v', '--remove-orphans']).catch((err: unknown) =>
        console.error(String(err)),
      );
    for (const hostId of [project, `${project}-b`]) {
      const leftovers = await docker(
        'ps',
        '-aq',
        '--filter',
        `label=workcell.host=${hostId}`,
      ).catch(() => '');
      for (const id of leftovers.split('\n').filter(Boolean))
        await docker('rm', '-f', id).catch(() => '');
    }
    await docker('rmi', TEST_IMAGE).catch(() => '');
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    if (dataDirB) rmSync(dataDirB, { recursive: true, force: true });
  }, 120_000);

  it('serves health with Redis state, the S3 store and a warm pool', async () => {
    const body = (await healthy(30_000)) as {
      stateStore: { kind: string };
      objectStore: { kind: string };
    };
    expect(body.stateStore.kind).toBe('redis');
    expect(body.objectStore.kind).toBe('s3://workcell/');
    // WORKCELL_WARM_POOL_SIZE=1: the host fills its pool on the engine it reaches by the socket.
    const deadline = Date.now() + 30_000;
    let warm = 0;
    while (Date.now() < deadline && warm < 1) {
      warm = ((await healthy(5_000)) as { pool: { warm: number } }).pool.warm;
      if (warm < 1) await sleep(500);
    }
    expect(warm).toBe(1);
  });

  it('runs one message with the mock model in a workspace container whose mounts resolve on the engine', async () => {
    const ws = (await (
      await api('/v1/workspaces', { method: 'POST', body: '{"name": "compose"}' })
    ).json()) as { id: string };
    workspaceId = ws.id;
    const conv = (await (
      await api(`/v1/workspaces/${ws.id}/conversations`, { method: 'POST', body: '{}' })
    ).json()) as {
      id: string;
    };
    const res = await api(`/v1/conversations/${conv.id}/messages`, {
      method: 'POST',
      headers: { accept: 'text/event-stream' },
      body: JSON.stringify({
        content:
          'MOCK:{"tool": "Write", "input": {"file_path": "hello.txt", "content": "hello from compose\\n"}}',
      }),
    });
    expect(res.status).toBe(200);
    const events = await readSse(res);
    expect(events[0]?.event).toBe('run.started');
    expect(events.at(-1)?.event).toBe('run.completed');
    const file = await api(`/v1/workspaces/${ws.id}/files/hello.txt`);
    expect(await file.text()).toBe('hello from compose\n');

    const detail = (await (await api(`/v1/workspaces/${ws.id}`)).json()) as {
      container: { id: string } | null;
    };
    const [info] = JSON.parse(await docker('inspect', detail.container?.id ?? '')) as [
      { Mounts: { Source: string; Destination: string }[]; HostConfig: { NetworkMode: string } },
    ];
    expect(info.HostConfig.NetworkMode).toBe('none');
    const workspaceMount = info.Mounts.find((m) => m.Destination === '/workspace');
    expect(workspaceMount?.Source.startsWith(`${dataDir}/`)).toBe(true);
    expect(existsSync(join(workspaceMount!.Source, 'hello.txt'))).toBe(true);
  });

  it('two hosts behind HAProxy: messages through the balancer run on both hosts, each on its own containers', async () => {
    const viaBalancer = (path: string, init: RequestInit = {}): Promise<Response> => {
      const headers = new Headers(init.headers);
      headers.set('authorization', `Bearer ${token}`);
      if (typeof init.body === 'string') headers.set('content-type', 'application/json');
      return fetch(`${balancerUrl}${path}`, { ...init, headers });
    };
    const deadline = Date.now() + 60_000;
    for (;;) {
      const res = await fetch(`${balancerUrl}/readyz`).catch(() => null);
      if (res?.status === 200) break;
      if (Date.now() > deadline) throw new Error('the balancer never answered /readyz with 200');
      await sleep(500);
    }
    const servedBy = new Set<string>();
    for (let i = 0; i < 4; i += 1) {
      const ws = (await (
        await viaBalancer('/v1/workspaces', { method: 'POST', body: '{"name": "balanced"}' })
      ).json()) as { id: string };
      const conv = (await (
        await viaBalancer(`/v1/workspaces/${ws.id}/conversations`, { method: 'POST', body: '{}' })
      ).json()) as { id: string };
      const res = await viaBalancer(`/v1/conversations/${conv.id}/messages`, {
        method: 'POST',
        headers: { accept: 'text/event-stream' },
        body: JSON.stringify({
          content: `MOCK:{"tool": "Write", "input": {"file_path": "n.txt", "content": "${i}"}}`,
        }),
      });
      expect(res.status).toBe(200);
      const events = await readSse(res);
      expect(events.at(-1)?.event).toBe('run.completed');
      // Whichever host answers, the file is in the shared object store.
      expect(await (await viaBalancer(`/v1/workspaces/${ws.id}/files/n.txt`)).text()).toBe(
        String(i),
      );
      const detail = (await (await viaBalancer(`/v1/workspaces/${ws.id}`)).json()) as {
        container: { id: string } | null;
      };
      const [info] = JSON.parse(await docker('inspect', detail.container?.id ?? '')) as [
        { Config: { Labels: Record<string, string> } },
      ];
      const host = info.Config.Labels['workcell.host'] ?? '';
      const ownDir = host === project ? dataDir : dataDirB;
      expect(info.Config.Labels['workcell.data-dir']).toBe(ownDir);
      servedBy.add(host);
    }
    expect([...servedBy].sort()).toEqual([project, `${project}-b`].sort());
  });

  it('keeps workspace files in its volumes when the stack is taken down and brought up again', async () => {
    await compose(['down'], 180_000);
    await compose(['up', '-d'], 300_000);
    await healthy(60_000);
    const file = await api(`/v1/workspaces/${workspaceId}/files/hello.txt`);
    expect(file.status).toBe(200);
    expect(await file.text()).toBe('hello from compose\n');
  });
});
