import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { docker, startTestHost, type TestHost } from '../support/host.js';

/** A workspace narrows the operator's egress list; the running container obeys at once. */
describe('workspace egress policy', () => {
  let host: TestHost;
  let canary: Server;
  let port: number;
  let hits = 0;
  let workspaceId: string;
  let containerId: string;

  beforeAll(async () => {
    canary = createServer((_req, res) => {
      hits += 1;
      res.end('canary');
    });
    await new Promise<void>((r) => canary.listen(0, '127.0.0.1', r));
    port = (canary.address() as AddressInfo).port;
    host = await startTestHost({
      egressAllow: `localhost:${port},*.example.org`,
      egressAllowPrivate: '127.0.0.1',
    });
    const c = await host.conversation();
    workspaceId = c.workspaceId;
    const events = await host.send(c.conversationId, 'MOCK:{"text": "hi"}');
    expect(events.at(-1)?.event).toBe('run.completed');
    const ws = await host.wc.workspaces.get(workspaceId);
    containerId = ws.container?.id ?? '';
  });

  afterAll(async () => {
    await host?.close();
    canary?.close();
  });

  const fetchFromContainer = async (): Promise<string> =>
    (
      await docker(
        'exec',
        containerId,
        'curl',
        '-s',
        '-o',
        '/dev/null',
        '-w',
        '%{http_code} %header{x-workcell-egress-denied}',
        '-x',
        'http://127.0.0.1:3128',
        `http://localhost:${port}/`,
      )
    ).trim();

  it('allows what the operator allows, then obeys a narrowing at once, then the reset', async () => {
    expect(await fetchFromContainer()).toBe('200');
    expect(hits).toBe(1);

    const narrowed = await host.api(`/v1/workspaces/${workspaceId}/egress`, {
      method: 'PUT',
      body: JSON.stringify({ hosts: ['api.example.org'] }),
    });
    expect(narrowed.status).toBe(200);
    const body = (await narrowed.json()) as { hosts: string[]; effective: { allow: string[] } };
    expect(body.hosts).toEqual(['api.example.org']);
    expect(body.effective.allow).toEqual(['api.example.org']);

    const denied = await fetchFromContainer();
    expect(denied).toMatch(/^403 \S+/);
    expect(hits).toBe(1);

    const reset = await host.api(`/v1/workspaces/${workspaceId}/egress`, {
      method: 'PUT',
      body: JSON.stringify({ hosts: null }),
    });
    expect(reset.status).toBe(200);
    expect(await fetchFromContainer()).toBe('200');
    expect(hits).toBe(2);

    const view = await host.wc.egress.get(workspaceId);
    const decisions = view.recent.filter((r) => r.host === 'localhost').map((r) => r.decision);
    expect(decisions).toEqual(['allow', 'deny', 'allow']);
    // Resolved addresses are for operators (the host log), never in the tenant's view.
    for (const record of view.recent) expect(record).not.toHaveProperty('address');
  });

  it('a narrowing closes the open tunnels it no longer allows', async () => {
    // A tunnel held open from inside the container, reporting when the proxy closes it.
    const script = [
      'import socket, sys',
      's = socket.create_connection(("127.0.0.1", 3128))',
      `s.sendall(b"CONNECT localhost:${port} HTTP/1.1\\r\\nHost: localhost:${port}\\r\\n\\r\\n")`,
      'print(s.recv(200).split(b"\\r\\n")[0].decode(), flush=True)',
      's.settimeout(30)',
      'try:',
      '    data = s.recv(100)',
      '    print("closed" if data == b"" else "data", flush=True)',
      'except socket.timeout:',
      '    print("still open", flush=True)',
    ].join('\n');
    const child = spawn('docker', ['exec', containerId, 'python3', '-c', script]);
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
    const deadline = Date.now() + 20_000;
    while (!out.includes('\n') && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    expect(out).toMatch(/^HTTP\/1.1 200/);
    const narrowed = await host.api(`/v1/workspaces/${workspaceId}/egress`, {
      method: 'PUT',
      body: JSON.stringify({ hosts: ['api.example.org'] }),
    });
    expect(narrowed.status).toBe(200);
    await exited;
    expect(out.trim().split('\n').at(-1)).toBe('closed');
    await host.api(`/v1/workspaces/${workspaceId}/egress`, {
      method: 'PUT',
      body: JSON.stringify({ hosts: null }),
    });
  });

  it('refuses hosts outside the operator list and malformed bodies', async () => {
    const outside = await host.api(`/v1/workspaces/${workspaceId}/egress`, {
      method: 'PUT',
      body: JSON.stringify({ hosts: ['evil.test'] }),
    });
    expect(outside.status).toBe(400);
    expect(((await outside.json()) as { error: { code: string } }).error.code).toBe(
      'validation_failed',
    );
    const broad = await host.api(`/v1/workspaces/${workspaceId}/egress`, {
      method: 'PUT',
      body: JSON.stringify({ hosts: ['*'] }),
    });
    expect(broad.status).toBe(400);
    const malformed = await host.api(`/v1/workspaces/${workspaceId}/egress`, {
      method: 'PUT',
      body: '{"hosts": "x"}',
    });
    expect(malformed.status).toBe(400);
    expect(await fetchFromContainer()).toBe('200');
  });
});
