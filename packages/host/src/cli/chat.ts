import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { WorkcellApiError, WorkcellClient, type RunEventStream } from '@workcell/client';
import { chatDefaults, type ChatDefaults } from '../config/chat.js';
import { approvalQuestion, isYes, runToolCommand } from './chat-approvals.js';
import {
  CHAT_COMMANDS_HELP,
  parseChatCommand,
  runChatCommand,
  type ChatTarget,
} from './chat-commands.js';
import { ChatRenderer, type ChatOutput } from './chat-render.js';

export const CHAT_USAGE = `usage: workcell chat [--url U] [--token T] [--workspace W] [--conversation C] [--tool-command CMD] [-p PROMPT]

  --url U            the host (default WORKCELL_URL, else http://127.0.0.1:WORKCELL_PORT)
  --token T          an API token (default WORKCELL_TOKEN)
  --workspace W      the workspace to talk in (default: a new one)
  --conversation C   a conversation to continue (default: a new one)
  -p, --print PROMPT send one message, print the reply and exit:
                     0 when the run completes, 1 when it fails or the API refuses, 2 on a usage error
  --tool-command CMD answer client tool calls by running CMD (a shell command) with the call as
                     JSON {"name", "input"} on stdin: its stdout is the result, a non-zero exit an
                     error; without it a call is printed and waits for its result from elsewhere

A tool call an "ask" rule matches asks first: Allow Bash: <command>? [y/N]

Type a message and press Enter. Ctrl-C interrupts a run; a second Ctrl-C exits.

${CHAT_COMMANDS_HELP}`;

/** What the chat reads and writes; the process's own streams by default. */
export interface ChatIo extends ChatOutput {
  input: NodeJS.ReadableStream;
  /** Registers the Ctrl-C handler; answers a function that removes it. */
  onInterrupt(handler: () => void): () => void;
}

/**
 * The process's streams. One SIGINT listener stays installed for the whole chat and calls the
 * latest handler registered, so a Ctrl-C between two handlers is never the default kill; with
 * none registered it exits 130.
 */
export function processIo(): ChatIo {
  const handlers: (() => void)[] = [];
  let installed = false;
  return {
    input: process.stdin,
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
    onInterrupt: (handler) => {
      if (!installed) {
        installed = true;
        process.on('SIGINT', () => {
          const current = handlers.at(-1);
          if (current) current();
          else process.exit(130);
        });
      }
      handlers.push(handler);
      return () => {
        const at = handlers.lastIndexOf(handler);
        if (at >= 0) handlers.splice(at, 1);
      };
    },
  };
}

class UsageError extends Error {}

type Target = ChatTarget;

/** Lines typed at the terminal, shared by the chat's prompt and its approval questions. */
class LineReader {
  private lines: AsyncIterator<string> | null = null;
  private rl: ReturnType<typeof createInterface> | null = null;

  constructor(private readonly input: NodeJS.ReadableStream) {}

  /** The next line; null at the end of the input. */
  async next(): Promise<string | null> {
    if (!this.lines) {
      this.rl = createInterface({ input: this.input, terminal: false });
      this.lines = this.rl[Symbol.asyncIterator]();
    }
    const next = await this.lines.next();
    return next.done ? null : next.value;
  }

  close(): void {
    this.rl?.close();
  }
}

interface RunOptions {
  lines: LineReader;
  toolCommand?: string;
}

/** Finds or creates the workspace and conversation the chat talks in, saying what it made. */
async function target(
  values: { url: string; token: string; workspace?: string; conversation?: string },
  io: ChatIo,
): Promise<Target> {
  const wc = new WorkcellClient({ baseUrl: values.url, token: values.token });
  if (values.conversation) {
    const conversation = await wc.conversations.get(values.conversation);
    if (values.workspace && conversation.workspaceId !== values.workspace)
      throw new UsageError(
        `conversation ${conversation.id} belongs to workspace ${conversation.workspaceId}, not ${values.workspace}`,
      );
    return { wc, conversationId: conversation.id };
  }
  let workspaceId = values.workspace;
  if (!workspaceId) {
    const ws = await wc.workspaces.create({ name: 'chat' });
    workspaceId = ws.id;
    io.err(`created workspace ${ws.id}\n`);
  } else {
    await wc.workspaces.get(workspaceId);
  }
  const conversation = await wc.conversations.create(workspaceId, { title: 'chat' });
  io.err(`conversation ${conversation.id} in workspace ${workspaceId}\n`);
  return { wc, conversationId: conversation.id };
}

/**
 * Sends one message and renders its run. The first Ctrl-C asks the host to interrupt the run
 * (it ends `run.completed`, interrupted); a second one stops reading and answers 'exit'.
 */
async function runOnce(
  t: Target,
  content: string,
  io: ChatIo,
  options: RunOptions,
): Promise<'completed' | 'failed' | 'exit'> {
  const abort = new AbortController();
  const stream: RunEventStream = t.wc.conversations.send(t.conversationId, content, {
    signal: abort.signal,
  });
  let interrupts = 0;
  const stop = io.onInterrupt(() => {
    interrupts += 1;
    if (interrupts > 1 || stream.runId === null) {
      abort.abort(new Error('exit'));
      return;
    }
    io.err('\n[interrupting; Ctrl-C again to exit]\n');
    t.wc.conversations.interrupt(t.conversationId, stream.runId).catch((err: unknown) => {
      io.err(`cannot interrupt: ${err instanceof Error ? err.message : String(err)}\n`);
    });
  });
  const renderer = new ChatRenderer(io);
  let outcome: 'completed' | 'failed' = 'failed';
  try {
    for await (const event of stream) {
      renderer.event(event);
      if (event.event === 'run.completed') outcome = 'completed';
      if (event.event === 'approval.requested') {
        io.out(approvalQuestion(event.data.toolName, event.data.input));
        const answer = await options.lines.next();
        if (answer === null) io.out('\n');
        await t.wc.approvals
          .decide(t.conversationId, event.data.approvalId, {
            decision: answer !== null && isYes(answer) ? 'allow' : 'deny',
          })
          .catch((err: unknown) => {
            io.err(`cannot decide: ${err instanceof Error ? err.message : String(err)}\n`);
          });
      }
      if (event.event === 'tool.requested' && options.toolCommand) {
        const result = await runToolCommand(options.toolCommand, event.data);
        await t.wc.toolResults
          .send(t.conversationId, event.data.callId, result)
          .catch((err: unknown) => {
            io.err(
              `cannot send the tool result: ${err instanceof Error ? err.message : String(err)}\n`,
            );
          });
      }
    }
    return outcome;
  } catch (err) {
    renderer.finish();
    if (abort.signal.aborted) return 'exit';
    throw err;
  } finally {
    stop();
  }
}

/** `workcell chat`: an interactive chat with a workspace's agent, or one message with `-p`. */
export async function chat(
  args: string[],
  io: ChatIo = processIo(),
  defaults: ChatDefaults = chatDefaults(),
): Promise<number> {
  let values: {
    url?: string;
    token?: string;
    workspace?: string;
    conversation?: string;
    print?: string;
    'tool-command'?: string;
    help?: boolean;
  };
  try {
    ({ values } = parseArgs({
      args,
      options: {
        url: { type: 'string' },
        token: { type: 'string' },
        workspace: { type: 'string' },
        conversation: { type: 'string' },
        print: { type: 'string', short: 'p' },
        'tool-command': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    io.err(`workcell chat: ${err instanceof Error ? err.message : String(err)}\n\n${CHAT_USAGE}\n`);
    return 2;
  }
  if (values.help) {
    io.out(`${CHAT_USAGE}\n`);
    return 0;
  }
  const url = values.url ?? defaults.url;
  const token = values.token ?? defaults.token;
  const problems: string[] = [];
  if (!token) problems.push('an API token is required: --token T or WORKCELL_TOKEN');
  if (!/^https?:\/\/[^/]/.test(url)) problems.push(`--url must be an http(s) URL, not '${url}'`);
  if (values.print !== undefined && values.print.trim() === '')
    problems.push('-p needs a non-empty prompt');
  if (problems.length > 0 || !token) {
    io.err(`workcell chat: ${problems.join('; ')}\n\n${CHAT_USAGE}\n`);
    return 2;
  }

  const lines = new LineReader(io.input);
  const toolCommand = values['tool-command'];
  const options: RunOptions = { lines, ...(toolCommand ? { toolCommand } : {}) };
  try {
    const t = await target({ ...values, url, token }, io);
    if (values.print !== undefined) {
      const outcome = await runOnce(t, values.print, io, options);
      return outcome === 'completed' ? 0 : outcome === 'exit' ? 130 : 1;
    }
    return await interactive(t, io, options);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`workcell chat: ${err.message}\n`);
      return 2;
    }
    if (err instanceof WorkcellApiError) {
      io.err(`workcell chat: ${err.code} (${err.status || 'no answer'}): ${err.message}\n`);
      return 1;
    }
    throw err;
  } finally {
    lines.close();
  }
}

async function interactive(t: Target, io: ChatIo, options: RunOptions): Promise<number> {
  // Ctrl-C at the prompt exits; during a run runOnce takes it over.
  let exitAtPrompt: (() => void) | null = null;
  const atPrompt = new Promise<'exit'>((resolve) => {
    exitAtPrompt = () => resolve('exit');
  });
  try {
    for (;;) {
      io.out('> ');
      const stop = io.onInterrupt(() => exitAtPrompt?.());
      const next = await Promise.race([options.lines.next(), atPrompt]);
      stop();
      if (next === 'exit' || next === null) {
        io.out('\n');
        return 0;
      }
      const content = next.trim();
      if (content === '') continue;
      try {
        const command = parseChatCommand(content);
        if (command !== null) {
          await runChatCommand(command, t, io);
          continue;
        }
        const outcome = await runOnce(t, content, io, options);
        if (outcome === 'exit') return 130;
      } catch (err) {
        if (!(err instanceof WorkcellApiError)) throw err;
        io.err(`error: ${err.code}: ${err.message}\n`);
      }
    }
  } finally {
    options.lines.close();
  }
}
