import { randomBytes } from 'node:crypto';
import type { ExecEvent, ExecResult } from '@workcell/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { containerOf } from '../security/support.js';
import { docker, startTestHost, type TestHost } from '../support/host.js';

const OUTPUT_CAP = 4096;
const OTHER_TOKEN = `tok_${randomBytes(16).toString('hex')}`;

/**
 * `POST /v1/workspaces/:wid/exec` on real Docker: a command in the workspace's container, with
 * the agent's isolation and environment, under the workspace's run lease, its changes synced.
 */
describe('exec', () => {
  let host: TestHost;
  let workspaceId: string;
  let conversationId: string;

  const exec = (
    command: string[],
    more: { cwd?: string; env?: Record<string, string>; timeoutMs?: number; stdin?: string } = {},
    wid = workspaceId,
  ): Promise<ExecResult> => host.wc.exec.run(wid, { command, ...more });
  const sh = (script: string, more: Parameters<typeof exec>[1] = {}): Promise<ExecResult> =>
    exec(['sh', '-c', script], more);
  const post = (body: unknown, wid = workspaceId): Promise<Response> =>
    host.api(`/v1/workspaces/${wid}/exec`, { method: 'POST', body: JSON.stringify(body) });
  /** The command lines of every process in the workspace's container but the agent's. */
  const processes = async (): Promise<string> => {
    const id = await containerOf(host, workspaceId);
    return docker('exec', id, 'ps', '-eo', 'args');
  };

  beforeAll(async () => {
    host = await startTestHost({
      execMaxOutputBytes: OUTPUT_CAP,
      tokens: { [OTHER_TOKEN]: 'another-tenant' },
      secretsKey: randomBytes(32).toString('base64'),
    });
    ({ workspaceId, conversationId } = await host.conversation());
    await host.wc.secrets.workspace.put(workspaceId, 'api', {
      value: `real-${randomBytes(12).toString('hex')}`,
      hosts: ['api.example.com'],
    });
  });

  afterAll(async () => {
    await host?.close();
  });

  it('answers a command with its exit code and output as JSON', async () => {
    const result = await sh('echo hello; echo oops >&2; printf "é"');
    expect(result).toMatchObject({
      exitCode: 0,
      signal: null,
      stdout: 'hello\né',
      stderr: 'oops\n',
      timedOut: false,
      truncated: false,
    });
    expect(result.durationMs).toBeGreaterThan(0);
    expect(result.error).toBeUndefined();
  });

  it('reports a non-zero exit, and a missing program as 127, as answers (not errors)', async () => {
    expect(await sh('exit 3')).toMatchObject({ exitCode: 3, signal: null });
    const missing = await exec(['no-such-program']);
    expect(missing.exitCode).toBe(127);
    expect(missing.stderr).toContain('no-such-program');
    // A shell builtin is not a program: argv[0] is always looked up on PATH.
    expect((await exec(['exit', '0'])).exitCode).toBe(127);
  });

  it('feeds stdin and runs in cwd, relative or absolute', async () => {
    expect((await exec(['cat'], { stdin: 'from stdin\n' })).stdout).toBe('from stdin\n');
    // The workspace keeps files, not empty folders: the folder holds one.
    await sh('mkdir -p sub/dir && touch sub/dir/keep');
    expect((await exec(['pwd'], { cwd: 'sub/dir' })).stdout).toBe('/workspace/sub/dir\n');
    expect((await exec(['pwd'], { cwd: '/workspace/sub/../sub' })).stdout).toBe('/workspace/sub\n');
  });

  it('streams stdout and stderr as SSE and ends with exit', async () => {
    const events: ExecEvent[] = [];
    for await (const ev of host.wc.exec.stream(workspaceId, {
      command: ['sh', '-c', 'echo one; sleep 0.3; echo two >&2; sleep 0.3; echo three; exit 5'],
    }))
      events.push(ev);
    const names = events.map((e) => e.event);
    expect(names.at(-1)).toBe('exit');
    const text = (stream: string): string =>
      events
        .filter((e) => e.event === stream)
        .map((e) => (e.data as { data: string }).data)
        .join('');
    expect(text('stdout')).toBe('one\nthree\n');
    expect(text('stderr')).toBe('two\n');
    // Output arrives as it is written: three separate chunks, in order.
    expect(names.slice(0, 3)).toEqual(['stdout', 'stderr', 'stdout']);
    expect(events.at(-1)?.data).toMatchObject({ code: 5, signal: null, timedOut: false });

    // The raw answer is an event stream with numbered events.
    const res = await host.api(`/v1/workspaces/${workspaceId}/exec`, {
      method: 'POST',
      headers: { accept: 'text/event-stream' },
      body: JSON.stringify({ command: ['echo', 'raw'] }),
    });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const body = await res.text();
    expect(body).toContain('id: 1\nevent: stdout\ndata: {"data":"raw\\n"}');
    expect(body).toMatch(/event: exit\ndata: \{"code":0,"signal":null/);
  });

  it('kills the whole process tree on timeout, a background child included', async () => {
    const started = Date.now();
    const result = await sh('sleep 301 & (setsid sleep 302 &); echo started; sleep 303', {
      timeoutMs: 1500,
    });
    expect(result).toMatchObject({ exitCode: null, signal: 'SIGKILL', timedOut: true });
    expect(result.stdout).toBe('started\n');
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(result.durationMs).toBeLessThan(1500 + 1500);
    const left = await processes();
    // The child that left the session (setsid) goes too: it carries the exec's marker.
    expect(left).not.toMatch(/sleep 30[123]/);
    // The workspace is free again at once.
    expect((await exec(['true'])).exitCode).toBe(0);
    const metrics = await (await fetch(`${host.url}/metrics`)).text();
    expect(metrics).toContain('workcell_execs_total{outcome="timeout"} 1');
    expect(metrics).toMatch(/workcell_execs_total\{outcome="exited"\} [1-9]/);
  });

  it('ends with the command: a background child does not outlive it or hold the answer', async () => {
    const started = Date.now();
    const result = await sh('sleep 311 & (setsid sleep 312 &); echo started');
    expect(result).toMatchObject({ exitCode: 0, stdout: 'started\n' });
    expect(result.durationMs).toBeLessThan(1500);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(await processes()).not.toMatch(/sleep 31[12]/);
  });

  it('kills the command when the client goes away, and frees the workspace', async () => {
    const abort = new AbortController();
    const events: ExecEvent[] = [];
    await expect(
      (async () => {
        for await (const ev of host.wc.exec.stream(
          workspaceId,
          { command: ['sh', '-c', 'echo ready; sleep 321'] },
          { signal: abort.signal },
        )) {
          events.push(ev);
          abort.abort();
        }
      })(),
    ).rejects.toThrow();
    expect(events.map((e) => e.event)).toEqual(['stdout']);
    // The kill, the sync out and the release follow the disconnect within moments.
    let free = false;
    for (let i = 0; i < 50 && !free; i += 1) {
      const res = await post({ command: ['true'] });
      free = res.status === 200;
      if (!free) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(free).toBe(true);
    expect(await processes()).not.toContain('sleep 321');
  });

  it('caps JSON output at WORKCELL_EXEC_MAX_OUTPUT_BYTES and says so', async () => {
    const result = await sh(`head -c 100000 /dev/zero | tr '\\0' a; echo done >&2`);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe('a'.repeat(OUTPUT_CAP));
    expect(result.stderr).toBe('done\n');
    expect(result.truncated).toBe(true);
    // A streamed answer is not capped.
    let streamed = 0;
    for await (const ev of host.wc.exec.stream(workspaceId, {
      command: ['sh', '-c', `head -c 100000 /dev/zero | tr '\\0' a`],
    }))
      if (ev.event === 'stdout') streamed += ev.data.data.length;
    expect(streamed).toBe(100_000);
  });

  it('runs as uid 1000 with no network but the proxy, in the agent environment with placeholders', async () => {
    expect((await exec(['id', '-u'])).stdout).toBe('1000\n');
    expect((await exec(['ls', '/sys/class/net'])).stdout).toBe('lo\n');
    const direct = await exec(['curl', '--noproxy', '*', '-sS', '-m', '3', 'http://1.1.1.1/']);
    expect(direct.exitCode).not.toBe(0);
    const env = (await exec(['env'])).stdout;
    const placeholders = await host.workcell.secrets.placeholders(host.tenant, workspaceId);
    expect(placeholders.WORKCELL_SECRET_API).toMatch(/^wcs_/);
    expect(env).toContain(`WORKCELL_SECRET_API=${placeholders.WORKCELL_SECRET_API}\n`);
    expect(env).toContain('HTTPS_PROXY=http://127.0.0.1:3128\n');
    expect(env).toContain('https_proxy=http://127.0.0.1:3128\n');
    expect(env).toContain('ANTHROPIC_BASE_URL=http://127.0.0.1:3128/_workcell/anthropic\n');
    expect(env).not.toContain('real-');
    // The agent's tools see the same placeholder.
    const events = await host.send(
      conversationId,
      'MOCK:{"tool": "Bash", "input": {"command": "echo $WORKCELL_SECRET_API"}}',
    );
    expect(JSON.stringify(events)).toContain(placeholders.WORKCELL_SECRET_API);
    // The workspace's agent env comes too, and a request's own variables over it.
    await host.wc.agent.set(workspaceId, { env: { TEAM: 'from-agent', GREETING: 'agent' } });
    const both = await exec(['sh', '-c', 'echo $TEAM $GREETING'], { env: { GREETING: 'hi' } });
    expect(both.stdout).toBe('from-agent hi\n');
    await host.wc.agent.set(workspaceId, {});
  });

  it('saves what it writes: visible to the files API and to a new container', async () => {
    await host.wc.files.upload(workspaceId, 'in/given.txt', 'uploaded');
    const made = await sh('cat in/given.txt > out-made.txt; echo " and made" >> out-made.txt');
    expect(made.exitCode).toBe(0);
    expect(await host.wc.files.text(workspaceId, 'out-made.txt')).toBe('uploaded and made\n');
    const id = await containerOf(host, workspaceId);
    await host.workcell.orchestrator.remove(id, 'test removes the container');
    const again = await exec(['cat', 'out-made.txt']);
    expect(again.stdout).toBe('uploaded and made\n');
    expect(await containerOf(host, workspaceId)).not.toBe(id);
  });

  it('obeys the busy rule: a message and an exec exclude each other', async () => {
    const running = host.wc.conversations.start(conversationId, 'MOCK:{"sleep_ms": 3000}');
    const { runId } = await running;
    const busy = await post({ command: ['true'] });
    expect(busy.status).toBe(409);
    expect(await busy.json()).toEqual({
      error: { code: 'workspace_busy', message: expect.any(String) },
    });
    for await (const ev of host.wc.conversations.events(conversationId, runId)) void ev;

    const long = exec(['sleep', '2']);
    await new Promise((resolve) => setTimeout(resolve, 700));
    const message = await host.api(`/v1/conversations/${conversationId}/messages`, {
      method: 'POST',
      body: JSON.stringify({ content: 'hello' }),
    });
    expect(message.status).toBe(409);
    expect(((await message.json()) as { error: { code: string } }).error.code).toBe(
      'workspace_busy',
    );
    expect((await post({ command: ['true'] })).status).toBe(409);
    expect((await long).exitCode).toBe(0);
  });

  it('refuses hostile and malformed input with stable codes, running nothing', async () => {
    const cases: [unknown, string][] = [
      [{}, 'validation_failed'],
      [{ command: [] }, 'validation_failed'],
      [{ command: 'ls' }, 'validation_failed'],
      [{ command: [''] }, 'validation_failed'],
      [{ command: ['echo', 'a\u0000b'] }, 'validation_failed'],
      [{ command: ['true'], timeoutMs: 0 }, 'validation_failed'],
      [{ command: ['true'], timeoutMs: 10 * 24 * 3600 * 1000 }, 'validation_failed'],
      [{ command: ['true'], shell: true }, 'validation_failed'],
      [{ command: ['true'], cwd: '/etc' }, 'invalid_path'],
      [{ command: ['true'], cwd: '../etc' }, 'invalid_path'],
      [{ command: ['true'], cwd: '/workspace/../../etc' }, 'invalid_path'],
      [{ command: ['true'], cwd: '/workspacefoo' }, 'invalid_path'],
      [{ command: ['true'], cwd: 'no-such-dir' }, 'invalid_path'],
      [{ command: ['true'], cwd: 'out-made.txt' }, 'invalid_path'],
      [{ command: ['true'], env: { HTTPS_PROXY: 'http://evil:1' } }, 'env_not_allowed'],
      [{ command: ['true'], env: { no_proxy: '*' } }, 'env_not_allowed'],
      [{ command: ['true'], env: { SSL_CERT_FILE: '/tmp/x' } }, 'env_not_allowed'],
      [{ command: ['true'], env: { LD_PRELOAD: '/tmp/x.so' } }, 'env_not_allowed'],
      [{ command: ['true'], env: { WORKCELL_SECRET_API: 'x' } }, 'env_not_allowed'],
      [{ command: ['true'], env: { ANTHROPIC_BASE_URL: 'http://x' } }, 'env_not_allowed'],
      [{ command: ['true'], env: { 'A=B': 'x' } }, 'env_not_allowed'],
      [{ command: ['true'], env: { OK: 'a\u0000b' } }, 'validation_failed'],
    ];
    for (const [body, code] of cases) {
      const res = await post(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      const answer = (await res.json()) as { error: { code: string; message: string } };
      expect(answer.error.code, JSON.stringify(body)).toBe(code);
      expect(answer.error.message.length).toBeGreaterThan(0);
    }
    // A symlink in the workspace does not lead cwd out of it.
    await exec(['ln', '-sfn', '/etc', 'link-out']);
    const through = await post({ command: ['true'], cwd: 'link-out' });
    expect(((await through.json()) as { error: { code: string } }).error.code).toBe('invalid_path');
    // Nothing was left holding the workspace.
    expect((await exec(['true'])).exitCode).toBe(0);
  });

  it("answers 404 for another tenant's workspace and for none, 401 without a token", async () => {
    const res = await host.api(`/v1/workspaces/${workspaceId}/exec`, {
      method: 'POST',
      token: OTHER_TOKEN,
      body: JSON.stringify({ command: ['touch', 'intruder'] }),
    });
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('not_found');
    const anonymous = await host.api(`/v1/workspaces/${workspaceId}/exec`, {
      method: 'POST',
      token: null,
      body: JSON.stringify({ command: ['touch', 'intruder'] }),
    });
    expect(anonymous.status).toBe(401);
    expect((await post({ command: ['true'] }, 'ws_doesnotexist0000')).status).toBe(404);
    expect((await exec(['ls'])).stdout).not.toContain('intruder');
  });
});
