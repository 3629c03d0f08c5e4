import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { docker, startTestHost, type TestHost } from '../support/host.js';
import { openTerminal, type TestTerminal } from '../support/terminal.js';

/** What a refused upgrade answered. */
async function refusal(p: Promise<TestTerminal>): Promise<{ status: number; code: string }> {
  try {
    const t = await p;
    t.close();
  } catch (err) {
    const { status, body } = err as { status?: number; body?: string };
    const parsed = JSON.parse(body ?? '{}') as { error?: { code?: string } };
    return { status: status ?? 0, code: parsed.error?.code ?? '' };
  }
  throw new Error('the terminal opened');
}

const MOCK_WRITE = (path: string, content: string): string =>
  `MOCK:${JSON.stringify({ tool: 'Write', input: { file_path: path, content } })}`;

describe('terminal WebSocket', () => {
  let host: TestHost;
  const tokenB = `tok_b_${randomBytes(16).toString('hex')}`;
  const open: TestTerminal[] = [];
  const term = async (
    wid: string,
    auth: Parameters<typeof openTerminal>[2] = {},
  ): Promise<TestTerminal> => {
    const t = await openTerminal(host.url, wid, { token: host.token, ...auth });
    open.push(t);
    return t;
  };

  beforeAll(async () => {
    host = await startTestHost({
      tokens: { [tokenB]: 'tenant-b' },
      // Assigned containers idle for a second are retired by a GC pass (run by hand below).
      idleTimeoutMs: 1000,
      gcIntervalMs: 3_600_000,
      terminalMaxPerWorkspace: 2,
      terminalMaxPerHost: 3,
    });
  });
  afterAll(async () => {
    for (const t of open) t.close();
    await host?.close();
  });

  it('is a shell as uid 1000 in /workspace that sees resizes; what it writes is synced when it exits', async () => {
    const { workspaceId: wid } = await host.conversation();
    const t = await term(wid, { token: null, queryToken: host.token, query: 'cols=100&rows=30' });
    await t.waitFor(/\$ $/m);
    expect(t.messages[0]).toMatchObject({ type: 'ready' });
    expect(await t.run('id -u')).toBe('1000');
    expect(await t.run('pwd')).toBe('/workspace');
    // The agent's isolation: no capability, no_new_privs, no network interface but loopback.
    expect(
      await t.run("grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status | tr -s '\\t ' ' '"),
    ).toBe('CapEff: 0000000000000000\nCapBnd: 0000000000000000\nNoNewPrivs: 1');
    expect(await t.run('ls /sys/class/net')).toBe('lo');
    expect(await t.run('touch /usr/x 2>&1 || echo refused')).toContain('Read-only file system');
    expect(await t.run('stty size')).toBe('30 100');
    t.control({ type: 'resize', cols: 132, rows: 40 });
    await expect.poll(() => t.run('stty size'), { timeout: 10_000 }).toBe('40 132');
    // Text input works as well as binary frames; a bad control message is refused, not fatal.
    t.control({ type: 'resize', cols: 0 });
    await expect.poll(() => t.messages.some((m) => m.type === 'error')).toBe(true);
    t.control({ type: 'input', data: 'mkdir -p notes && echo from-terminal > notes/t.txt\r' });
    expect(await t.run('cat notes/t.txt')).toBe('from-terminal');

    t.type('exit 3\r');
    const { exit, code } = await t.closed;
    expect(exit).toEqual({ type: 'exit', exitCode: 3, reason: 'exited' });
    expect(code).toBe(1000);
    // Synced before the exit message went out.
    const files = await host.wc.files.list(wid);
    expect(files.map((f) => f.path)).toContain('notes/t.txt');
    const body = await host.api(`/v1/workspaces/${wid}/files/notes/t.txt`);
    expect(await body.text()).toBe('from-terminal\n');
    // The token sent as ?access_token= is in no log line.
    expect(host.logs.some((l) => l.includes(host.token))).toBe(false);
    expect(host.logs.some((l) => l.includes('/terminal?'))).toBe(true);
  });

  it('does not block a run; the run keeps what the terminal wrote and stores it at its end', async () => {
    const { workspaceId: wid, conversationId } = await host.conversation();
    const t = await term(wid);
    await t.waitFor(/\$ $/m);
    await t.run('echo before-run > typed.txt');
    const events = await host.send(conversationId, MOCK_WRITE('agent.txt', 'from the agent'));
    expect(events.at(-1)?.event).toBe('run.completed');
    // The run's sync in kept the terminal's file, and its sync out stored it, terminal still open.
    const paths = (await host.wc.files.list(wid)).map((f) => f.path);
    expect(paths).toEqual(expect.arrayContaining(['agent.txt', 'typed.txt']));
    expect(await t.run('cat agent.txt typed.txt')).toBe('from the agentbefore-run');
    // A file the API writes while the terminal is open reaches it, and keeps the terminal's.
    await t.run('echo later > later.txt');
    const put = await host.api(`/v1/workspaces/${wid}/files/api.txt`, {
      method: 'PUT',
      body: 'from the api',
      headers: { 'content-type': 'text/plain' },
    });
    expect(put.status).toBe(201);
    expect(await t.run('cat api.txt; echo; cat later.txt')).toBe('from the api\nlater');
    t.close();
    await t.closed;
    await expect
      .poll(async () => (await host.wc.files.list(wid)).map((f) => f.path), { timeout: 15_000 })
      .toContain('later.txt');
  });

  it('keeps its container while open; the idle container is retired after it closes, its files kept', async () => {
    const { workspaceId: wid } = await host.conversation();
    const t = await term(wid);
    await t.waitFor(/\$ $/m);
    await t.run('echo kept > kept.txt');
    const containerId = (await host.wc.workspaces.get(wid)).container?.id;
    expect(containerId).toBeTruthy();
    await new Promise((r) => setTimeout(r, 1500));
    const pass = await host.workcell.gc.runOnce();
    expect(pass.removed.map((r) => r.id)).not.toContain(containerId);
    expect(await t.run('echo alive')).toBe('alive');

    // Closing the socket ends the shell: no bash is left in the container, nor its pid file.
    t.close();
    await t.closed;
    await expect
      .poll(
        () =>
          docker(
            'exec',
            containerId ?? '',
            'sh',
            '-c',
            "grep -l '^bash$' /proc/[0-9]*/comm; ls /tmp/.workcell-terminal-* 2>/dev/null; true",
          ),
        { timeout: 10_000 },
      )
      .toBe('');
    await new Promise((r) => setTimeout(r, 1500));
    await expect
      .poll(
        async () => {
          await host.workcell.gc.runOnce();
          return (await host.wc.workspaces.get(wid)).container;
        },
        { timeout: 20_000 },
      )
      .toBeNull();
    expect(await docker('ps', '-aq', '--filter', `id=${containerId ?? ''}`)).toBe('');
    const body = await host.api(`/v1/workspaces/${wid}/files/kept.txt`);
    expect(await body.text()).toBe('kept\n');
  });

  it('refuses a bad token, another tenant, an unknown workspace and a request without upgrade', async () => {
    const { workspaceId: wid } = await host.conversation();
    expect(await refusal(openTerminal(host.url, wid, { token: null }))).toEqual({
      status: 401,
      code: 'unauthorized',
    });
    expect(await refusal(openTerminal(host.url, wid, { token: 'wrong-token-0123456789' }))).toEqual(
      { status: 401, code: 'unauthorized' },
    );
    expect(
      await refusal(openTerminal(host.url, wid, { token: null, queryToken: 'wrong-token-0123' })),
    ).toEqual({ status: 401, code: 'unauthorized' });
    expect(await refusal(openTerminal(host.url, wid, { token: tokenB }))).toEqual({
      status: 404,
      code: 'not_found',
    });
    expect(await refusal(openTerminal(host.url, wid, { token: null, queryToken: tokenB }))).toEqual(
      { status: 404, code: 'not_found' },
    );
    expect(await refusal(openTerminal(host.url, 'ws_doesnotexist', { token: host.token }))).toEqual(
      { status: 404, code: 'not_found' },
    );
    const plain = await host.api(`/v1/workspaces/${wid}/terminal`);
    expect(plain.status).toBe(400);
    // Nothing was started for the refused attempts.
    expect((await host.wc.workspaces.get(wid)).container).toBeNull();
  });

  it('enforces the per-workspace and per-host caps', async () => {
    const { workspaceId: a } = await host.conversation();
    const { workspaceId: b } = await host.conversation();
    const a1 = await term(a);
    const a2 = await term(a);
    expect(await refusal(openTerminal(host.url, a, { token: host.token }))).toEqual({
      status: 429,
      code: 'too_many_terminals',
    });
    const b1 = await term(b);
    expect(await refusal(openTerminal(host.url, b, { token: host.token }))).toEqual({
      status: 429,
      code: 'too_many_terminals',
    });
    a2.close();
    await a2.closed;
    expect(await host.wc.metrics()).toMatch(/^workcell_terminals_open 3$/m);
    // The server counts the terminal closed once its shell has ended.
    const opened: TestTerminal[] = [];
    await expect
      .poll(
        async () => {
          const t = await term(b).catch(() => null);
          if (t) opened.push(t);
          return opened.length;
        },
        { timeout: 15_000 },
      )
      .toBe(1);
    const b2 = opened[0] as TestTerminal;
    expect(await b2.run('echo ok')).toBe('ok');
    for (const t of [a1, b1, b2]) t.close();
    await Promise.all([a1.closed, b1.closed, b2.closed]);
  });
});

describe('terminal idle timeout and shutdown', () => {
  let host: TestHost;
  beforeAll(async () => {
    host = await startTestHost({ terminalIdleTimeoutMs: 2000, maxContainers: 1 });
  });
  afterAll(async () => {
    await host?.close();
  });

  it('closes a terminal with neither input nor output for the timeout', async () => {
    const { workspaceId: wid } = await host.conversation();
    const t = await openTerminal(host.url, wid, { token: host.token });
    await t.waitFor(/\$ $/m);
    const { exit, code } = await t.closed;
    expect(exit).toMatchObject({ type: 'exit', reason: 'idle' });
    expect(code).toBe(1000);
  });

  it("counts against the host's containers: an open terminal's container is not retired for room", async () => {
    const { workspaceId: a } = await host.conversation();
    const { workspaceId: b } = await host.conversation();
    const ta = await openTerminal(host.url, a, { token: host.token });
    await ta.run('echo a > a.txt');
    const refused = await openTerminal(host.url, b, { token: host.token }).then(
      (x) => {
        x.close();
        return { status: 0, body: '' };
      },
      (err: { status?: number; body?: string }) => ({ status: err.status, body: err.body }),
    );
    expect(refused.status).toBe(503);
    expect(refused.body).toContain('host_at_capacity');
    expect(await ta.run('cat a.txt')).toBe('a');

    ta.close();
    await ta.closed;
    // Now A's container is idle: it is retired (synced out) to make room for B's.
    let tb: Awaited<ReturnType<typeof openTerminal>> | null = null;
    await expect
      .poll(
        async () => (tb = await openTerminal(host.url, b, { token: host.token }).catch(() => null)),
        {
          timeout: 15_000,
        },
      )
      .not.toBeNull();
    const opened = tb as Awaited<ReturnType<typeof openTerminal>> | null;
    expect(await opened?.run('echo b')).toBe('b');
    // Exiting answers once the terminal has let go of the workspace (unlike closing the socket).
    opened?.type('exit\r');
    expect((await opened?.closed)?.exit).toMatchObject({ reason: 'exited' });
    expect((await host.wc.files.list(a)).map((f) => f.path)).toContain('a.txt');
  });

  it('ends open terminals when the host shuts down, their changes synced out', async () => {
    const { workspaceId: wid } = await host.conversation();
    const t = await openTerminal(host.url, wid, { token: host.token });
    await t.run('echo at-shutdown > last.txt');
    await host.workcell.terminals.closeAll();
    const { exit } = await t.closed;
    expect(exit).toMatchObject({ type: 'exit', reason: 'shutdown' });
    expect((await host.wc.files.list(wid)).map((f) => f.path)).toContain('last.txt');
    // A closing host opens no new terminal.
    const refused = await openTerminal(host.url, wid, { token: host.token }).then(
      (x) => {
        x.close();
        return 0;
      },
      (err: { status?: number }) => err.status ?? -1,
    );
    expect(refused).toBe(503);
  });
});
