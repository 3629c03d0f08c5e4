import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toolResults } from '../agent/support.js';
import { startTestHost, type TestHost } from '../support/host.js';

const LONG_RUN =
  'MOCK:{"tool": "Write", "input": {"file_path": "a.txt", "content": "a"}}\nMOCK:{"sleep_ms": 20000}\nMOCK:{"text": "never"}\n';

const BIN = fileURLToPath(new URL('../../packages/host/bin/workcell.js', import.meta.url));

/** A running `workcell chat` with everything it printed so far. */
interface Chat {
  child: ChildProcessWithoutNullStreams;
  out: () => string;
  err: () => string;
  /** Resolves once stdout contains `text` (after `from` characters). */
  waitOut(text: string, from?: number): Promise<void>;
  waitErr(text: string): Promise<void>;
  exit: Promise<number | null>;
}

function startChat(args: string[], env: Record<string, string> = {}): Chat {
  const child = spawn(process.execPath, [BIN, 'chat', ...args], {
    env: { PATH: process.env.PATH ?? '', ...env },
  });
  let out = '';
  let err = '';
  const waiters: (() => void)[] = [];
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    for (const w of waiters) w();
  });
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
    for (const w of waiters) w();
  });
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    out: () => out,
    err: () => err,
    exit,
    waitOut(text, from = 0) {
      return waitFor(() => out.indexOf(text, from) >= 0, text);
    },
    waitErr(text) {
      return waitFor(() => err.includes(text), text);
    },
  };
  function waitFor(done: () => boolean, text: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (done()) resolve();
      };
      waiters.push(check);
      check();
      void exit.then(() =>
        reject(new Error(`chat exited before printing '${text}'; out: ${out}; err: ${err}`)),
      );
    });
  }
}

async function run(args: string[], env: Record<string, string> = {}) {
  const chat = startChat(args, env);
  chat.child.stdin.end();
  const code = await chat.exit;
  return { code, out: chat.out(), err: chat.err() };
}

describe('workcell chat', () => {
  let host: TestHost;

  beforeAll(async () => {
    // Long enough for a cold first run on a loaded machine; the timeout test sleeps past it.
    host = await startTestHost({ runTimeoutMs: 20_000 });
  });

  afterAll(async () => {
    await host?.close();
  });

  it('-p runs one message in a new workspace, streams the reply and a tool line, and exits 0', async () => {
    const prompt =
      'MOCK:{"tool": "Write", "input": {"file_path": "from-chat.txt", "content": "chat wrote this\\n"}}\nMOCK:{"text": "all written"}';
    const { code, out, err } = await run(['--url', host.url, '--token', host.token, '-p', prompt]);
    expect(code, err).toBe(0);
    const created = /created workspace (\S+)/.exec(err)?.[1];
    expect(created).toBeTruthy();
    expect(out).toContain('• Write /workspace/from-chat.txt\n');
    expect(out).toContain('all written');
    expect(await host.wc.files.text(created ?? '', 'from-chat.txt')).toBe('chat wrote this\n');
  });

  it('-p takes the URL and token from WORKCELL_URL / WORKCELL_TOKEN and talks in --workspace', async () => {
    const { workspaceId } = await host.conversation();
    const { code, out, err } = await run(
      ['--workspace', workspaceId, '-p', 'MOCK:{"text": "env ok"}'],
      {
        WORKCELL_URL: host.url,
        WORKCELL_TOKEN: host.token,
      },
    );
    expect(code, err).toBe(0);
    expect(err).not.toContain('created workspace');
    expect(out).toContain('env ok');
    expect(await host.wc.conversations.list(workspaceId)).toHaveLength(2);
  });

  it('-p exits 1 when the run fails, naming the error code', async () => {
    const { code, err } = await run([
      '--url',
      host.url,
      '--token',
      host.token,
      '-p',
      'MOCK:{"sleep_ms": 60000}',
    ]);
    expect(code).toBe(1);
    expect(err).toContain('run_timeout');
  });

  it('exits 1 on an API error such as a bad token', async () => {
    const { code, err } = await run(['--url', host.url, '--token', 'not-a-token', '-p', 'hi']);
    expect(code).toBe(1);
    expect(err).toContain('unauthorized');
  });

  it('exits 2 on a usage error: no token, an unknown flag, an empty prompt', async () => {
    for (const args of [
      ['--url', host.url, '-p', 'hi'],
      ['--url', host.url, '--token', host.token, '--bogus'],
      ['--url', host.url, '--token', host.token, '-p', ' '],
    ]) {
      const { code, err } = await run(args);
      expect(code, args.join(' ')).toBe(2);
      expect(err).toContain('usage: workcell chat');
    }
  });

  it('interactive: Ctrl-C interrupts a run, the next message works, Ctrl-C at the prompt exits', async () => {
    const { workspaceId } = await host.conversation();
    const chat = startChat(['--url', host.url, '--token', host.token, '--workspace', workspaceId]);
    try {
      await chat.waitOut('> ');
      chat.child.stdin.write(LONG_RUN);
      // The tool call is shown, then the next model call sleeps: the run is in progress.
      await chat.waitOut('• Write');
      chat.child.kill('SIGINT');
      await chat.waitOut('[interrupted]');
      let from = chat.out().length;
      await chat.waitOut('> ', from);
      chat.child.stdin.write('MOCK:{"text": "second answer"}\n');
      await chat.waitOut('second answer', from);
      from = chat.out().length;
      await chat.waitOut('> ', from);
      chat.child.kill('SIGINT');
      expect(await chat.exit, `${chat.out()}\n---\n${chat.err()}`).toBe(0);
      // The interrupted run stopped before its last reply.
      const interrupted = chat.out().slice(0, chat.out().indexOf('[interrupted]'));
      expect(interrupted).toContain('• Write');
      expect(interrupted).not.toContain('never');
      expect(chat.err()).toContain('interrupting');
    } finally {
      chat.child.kill('SIGKILL');
    }
  });

  it('interactive: a second Ctrl-C during a run exits at once', async () => {
    const chat = startChat(['--url', host.url, '--token', host.token]);
    try {
      await chat.waitOut('> ');
      chat.child.stdin.write(LONG_RUN);
      await chat.waitOut('• Write');
      chat.child.kill('SIGINT');
      // Signals sent back to back may arrive as one: the second goes once the first was taken.
      await chat.waitErr('interrupting');
      chat.child.kill('SIGINT');
      // 130 when the run was still going; 0 when the interrupt had already ended it.
      expect([130, 0]).toContain(await chat.exit);
    } finally {
      chat.child.kill('SIGKILL');
    }
  });

  it('asks "Allow Bash: <command>? [y/N]" before a call an ask rule matches, and runs it on y', async () => {
    const ws = await host.wc.workspaces.create({
      name: 'ask',
      agent: { permissions: { ask: ['Bash'] } },
    });
    const chat = startChat([
      '--url',
      host.url,
      '--token',
      host.token,
      '--workspace',
      ws.id,
      '-p',
      'MOCK:{"tool": "Bash", "input": {"command": "echo yes > /workspace/asked.txt"}}',
    ]);
    await chat.waitOut('Allow Bash: echo yes > /workspace/asked.txt? [y/N] ');
    chat.child.stdin.write('y\n');
    expect(await chat.exit, chat.err()).toBe(0);
    expect(chat.out()).toContain('[allowed]');
    expect(await host.wc.files.text(ws.id, 'asked.txt')).toBe('yes\n');
  });

  it('denies on anything but y, and answers client tool calls from --tool-command', async () => {
    const ws = await host.wc.workspaces.create({
      name: 'tools',
      agent: {
        permissions: { ask: ['Bash'] },
        clientTools: [
          {
            name: 'lookup_order',
            description: 'Looks up an order.',
            inputSchema: { type: 'object', properties: { orderId: { type: 'string' } } },
          },
        ],
      },
    });
    const chat = startChat([
      '--url',
      host.url,
      '--token',
      host.token,
      '--workspace',
      ws.id,
      '--tool-command',
      'cat; echo " answered"',
      '-p',
      'MOCK:{"tool": "Bash", "input": {"command": "echo no > /workspace/no.txt"}}\nMOCK:{"tool": "lookup_order", "input": {"orderId": "Z9"}}',
    ]);
    await chat.waitOut('Allow Bash: echo no > /workspace/no.txt? [y/N] ');
    chat.child.stdin.write('n\n');
    expect(await chat.exit, chat.err()).toBe(0);
    expect(chat.out()).toContain('[denied]');
    expect(chat.out()).toMatch(/• client tool lookup_order .*Z9.* \(call call_/);
    const [, call] = await host.wc.approvals.list(
      (await host.wc.conversations.list(ws.id))[0]?.id ?? '',
    );
    expect(call).toMatchObject({ kind: 'tool', status: 'allowed' });
    const history = await host.wc.conversations.history(
      (await host.wc.conversations.list(ws.id))[0]?.id ?? '',
    );
    const [denied, answered] = toolResults(history.runs[0]?.events ?? []);
    expect(denied?.isError).toBe(true);
    // The command got the call as JSON on stdin; its stdout went to the model.
    expect(answered?.isError).toBe(false);
    expect(answered?.text).toContain('lookup_order');
    expect(answered?.text).toContain('Z9');
    expect(answered?.text).toContain('answered');
    expect((await host.wc.files.list(ws.id)).map((f) => f.path)).not.toContain('no.txt');
  });

  it('interactive: /rewind lists the turns and rewinds to one, /fork continues in a fork', async () => {
    const tag = `CHAT${Date.now().toString(36)}`;
    const ws = await host.wc.workspaces.create({ name: 'rewind' });
    const chat = startChat(['--url', host.url, '--token', host.token, '--workspace', ws.id]);
    /** Sends a line and waits for the next prompt; answers what was printed meanwhile. */
    const say = async (line: string): Promise<string> => {
      const from = chat.out().length;
      chat.child.stdin.write(`${line}\n`);
      await chat.waitOut('> ', from);
      return chat.out().slice(from);
    };
    try {
      await chat.waitOut('> ');
      expect(await say(`MOCK:{"text": "${tag}-one"}`)).toContain(`${tag}-one`);
      expect(await say(`MOCK:{"text": "${tag}-two"}`)).toContain(`${tag}-two`);
      const listed = await say('/rewind');
      expect(listed).toMatch(/^1 {2}run_\w+ {2}completed/m);
      expect(listed).toMatch(/^2 {2}run_\w+ {2}completed/m);
      await say('/rewind 1');
      await chat.waitErr('rewound to turn 1');
      expect(chat.err()).toContain('1 later turn(s) rewound');
      const seen = await say(`MOCK:{"echo": "context", "grep": "${tag}-"}`);
      expect(seen).toContain(`${tag}-one`);
      expect(seen).not.toContain(`${tag}-two`);

      await say('/fork');
      await chat.waitErr('forked conversation');
      const forkId = /into (conv_\w+)/.exec(chat.err())?.[1] ?? '';
      const inFork = await say(`MOCK:{"text": "${tag}-in-fork"}`);
      expect(inFork).toContain(`${tag}-in-fork`);
      expect(await say('/rewind 9')).toBe('> ');
      expect(chat.err()).toContain('no turn 9');
      chat.child.stdin.end();
      expect(await chat.exit, chat.err()).toBe(0);

      const conversations = await host.wc.conversations.list(ws.id);
      expect(conversations.map((c) => c.id)).toContain(forkId);
      const original = conversations.find((c) => c.id !== forkId);
      const runs = await host.wc.conversations.runs(original?.id ?? '');
      expect(runs.map((r) => r.rewound)).toEqual([false, true, false]);
      const forkRuns = await host.wc.conversations.runs(forkId);
      expect(forkRuns).toHaveLength(3);
      expect(forkRuns.map((r) => r.rewound)).toEqual([false, false, false]);
    } finally {
      chat.child.kill('SIGKILL');
    }
  });
});
