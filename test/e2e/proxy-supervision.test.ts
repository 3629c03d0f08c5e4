import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RunEvent } from '@workcell/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bash, containerOf } from '../security/support.js';
import { dataOf, docker, startTestHost, type TestHost } from '../support/host.js';
import { startSecretUpstream, type SecretUpstream } from '../support/secret-upstream.js';
import { makeTestCa, type TestCa } from '../support/test-ca.js';

interface ProxyHealth {
  isolation: string;
  ok: boolean;
  state: string;
  pid: number | null;
  standby: boolean;
  restarts: number;
  lastExit: { code: number | null; signal: string | null } | null;
}

interface Health {
  status: string;
  proxy: ProxyHealth;
}

/** Every tool_result text of a run, in order. */
function toolResults(events: RunEvent[]): string {
  const out: string[] = [];
  for (const m of dataOf<{ type: string; message?: { content?: unknown } }>(events, 'message')) {
    if (m.type !== 'user' || !Array.isArray(m.message?.content)) continue;
    for (const block of m.message.content as { type: string; content?: unknown }[]) {
      if (block.type !== 'tool_result') continue;
      const c = block.content;
      out.push(
        typeof c === 'string'
          ? c
          : Array.isArray(c)
            ? (c as { text?: string }[]).map((p) => p.text ?? '').join('')
            : '',
      );
    }
  }
  return out.join('\n');
}

async function until<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline)
      throw new Error(`not within ${timeoutMs} ms: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * The egress proxy runs in a process of its own under the host's supervision: killed with
 * SIGKILL in the middle of a run, it is back within a second on every container's socket, the
 * run completes, other workspaces run, and tenants' egress (allowed hosts, secret-bound hosts)
 * works through the new process.
 */
describe('a supervised proxy process', () => {
  const value = `real-${randomBytes(18).toString('hex')}`;
  let host: TestHost;
  let canary: Server;
  let canaryPort: number;
  let canaryHits = 0;
  let testCa: TestCa;
  let upstream: SecretUpstream;
  let workspaceId: string;
  let conversationId: string;

  const health = async (): Promise<Health> =>
    (await (await host.api('/health', { token: null })).json()) as Health;

  beforeAll(async () => {
    canary = createServer((_req, res) => {
      canaryHits += 1;
      res.end('canary');
    });
    await new Promise<void>((r) => canary.listen(0, '127.0.0.1', r));
    canaryPort = (canary.address() as AddressInfo).port;
    testCa = makeTestCa(['localhost']);
    upstream = await startSecretUpstream({ key: testCa.key, cert: testCa.cert, expected: value });
    host = await startTestHost({
      proxyIsolation: 'process',
      egressAllow: `localhost:${canaryPort},localhost:${upstream.port}`,
      egressAllowPrivate: '127.0.0.1',
      secretsKey: randomBytes(32).toString('base64'),
      upstreamCaFile: testCa.caFile,
    });
    ({ workspaceId, conversationId } = await host.conversation());
    await host.wc.secrets.workspace.put(workspaceId, 'api', {
      value,
      hosts: ['localhost'],
      header: 'Authorization',
      format: 'Bearer {value}',
    });
  });

  afterAll(async () => {
    await host?.close();
    canary?.close();
    await upstream?.close();
    testCa?.remove();
  });

  it('the proxy process has no setting or credential on its command line or in its environment', async () => {
    const pid = (await health()).proxy.pid ?? 0;
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    const environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
    const key = host.workcell.config.anthropicApiKey ?? '';
    expect(key).not.toBe('');
    for (const text of [cmdline, environ]) {
      expect(text).not.toContain(key);
      expect(text).not.toContain(value);
      expect(text).not.toMatch(/WORKCELL_|ANTHROPIC_|AWS_/);
    }
    expect(cmdline).toContain('process/main');
  });

  it('is back within a second after SIGKILL mid-run; the run completes, another workspace runs, /health stays ok', async () => {
    const first = await health();
    expect(first).toMatchObject({
      status: 'ok',
      proxy: { isolation: 'process', ok: true, state: 'running', restarts: 0 },
    });
    // Steady state: a standby process is built and waiting.
    await until(health, (h) => h.proxy.standby, 30_000);

    // Two model turns with a tool call between them: the second turn goes through the new process.
    const requestsBefore = host.mock.requests.length;
    const running = host.send(
      conversationId,
      `${bash('sleep 4; echo slept')}\nMOCK:{"text": "finished after the restart"}`,
    );
    await until(
      async () => host.mock.requests.length,
      (n) => n > requestsBefore,
      60_000,
    );
    await new Promise((r) => setTimeout(r, 500));

    const victim = (await health()).proxy.pid;
    expect(victim).toEqual(expect.any(Number));
    const killedAt = performance.now();
    process.kill(victim ?? 0, 'SIGKILL');
    const back = await until(
      health,
      (h) => h.proxy.restarts === 1 && h.proxy.state === 'running',
      5_000,
    );
    const restartMs = performance.now() - killedAt;
    expect(restartMs, `the proxy came back after ${Math.round(restartMs)} ms`).toBeLessThan(1_000);
    expect(back.proxy.pid).not.toBe(victim);
    expect(back.proxy.lastExit).toMatchObject({ code: null, signal: 'SIGKILL' });
    expect(back.status).toBe('ok');
    const metrics = await (await host.api('/metrics', { token: null })).text();
    expect(metrics).toMatch(/^workcell_proxy_restarts_total 1$/m);
    const logged = host.logs.filter((l) => l.includes('the proxy process died'));
    expect(logged).toHaveLength(1);
    expect(JSON.parse(logged[0] ?? '{}')).toMatchObject({ level: 50, signal: 'SIGKILL' });

    const events = await running;
    expect(events.at(-1)?.event, JSON.stringify(events.at(-1)?.data)).toBe('run.completed');
    expect(toolResults(events)).toContain('slept');
    expect(JSON.stringify(dataOf(events, 'message'))).toContain('finished after the restart');

    const other = await host.conversation();
    const otherEvents = await host.send(other.conversationId, 'MOCK:{"text": "other workspace"}');
    expect(otherEvents.at(-1)?.event).toBe('run.completed');
    expect((await health()).status).toBe('ok');
  });

  it('a model request the kill cuts is retried through the new process, and the run completes', async () => {
    await until(health, (h) => h.proxy.standby, 30_000);
    const { conversationId: cid } = await host.conversation();
    const requestsBefore = host.mock.requests.length;
    const restartsBefore = (await health()).proxy.restarts;
    const running = host.send(cid, 'MOCK:{"sleep_ms": 3000}\nMOCK:{"text": "answered in the end"}');
    await until(
      async () => host.mock.requests.length,
      (n) => n > requestsBefore,
      60_000,
    );
    await new Promise((r) => setTimeout(r, 300));
    process.kill((await health()).proxy.pid ?? 0, 'SIGKILL');
    await until(
      health,
      (h) => h.proxy.restarts === restartsBefore + 1 && h.proxy.state === 'running',
      5_000,
    );
    const events = await running;
    expect(events.at(-1)?.event, JSON.stringify(events.at(-1)?.data)).toBe('run.completed');
    expect(JSON.stringify(dataOf(events, 'message'))).toContain('answered in the end');
    // The cut request and its retry both reached the model.
    const messages = host.mock.requests
      .slice(requestsBefore)
      .filter((r) => r.path.startsWith('/v1/messages') && !r.path.includes('count_tokens'));
    expect(messages.length).toBeGreaterThanOrEqual(2);
  });

  it("a tenant's egress works through the new process: an allowed host and a secret-bound host", async () => {
    const containerId = await containerOf(host, workspaceId);
    const hitsBefore = canaryHits;
    const plain = await docker(
      'exec',
      containerId,
      'curl',
      '-s',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      '-x',
      'http://127.0.0.1:3128',
      `http://localhost:${canaryPort}/`,
    );
    expect(plain.trim()).toBe('200');
    expect(canaryHits).toBe(hitsBefore + 1);

    const before = upstream.authorizations.length;
    const events = await host.send(
      conversationId,
      bash(
        `unset NO_PROXY no_proxy; curl -sS -H "Authorization: Bearer $WORKCELL_SECRET_API" https://localhost:${upstream.port}/api/check`,
      ),
    );
    expect(events.at(-1)?.event).toBe('run.completed');
    expect(toolResults(events)).toContain('{"authorized":true}');
    expect(upstream.authorizations.slice(before)).toEqual([`Bearer ${value}`]);
    expect((await health()).proxy.restarts).toBeGreaterThanOrEqual(1);
  });
});
