import type { WorkcellClient } from '@workcell/client';
import type { ChatOutput } from './chat-render.js';

/** The conversation a chat talks in; `/fork` moves it to the fork. */
export interface ChatTarget {
  wc: WorkcellClient;
  conversationId: string;
}

export const CHAT_COMMANDS_HELP = `Commands:
  /fork              fork the conversation at its last turn and continue in the fork
  /rewind            list the turns the model sees, numbered
  /rewind N          continue from the end of turn N (later turns stay in the history, rewound)
  /rewind N --files  ... and return the workspace's files to how they were after turn N`;

type Parsed =
  | { kind: 'fork' }
  | { kind: 'rewind-list' }
  | { kind: 'rewind'; turn: number; files: boolean }
  | { kind: 'invalid'; message: string };

/** A line the chat handles itself, or null for a message to send as is. */
export function parseChatCommand(line: string): Parsed | null {
  const words = line.trim().split(/\s+/);
  const [name, ...args] = words;
  if (name === '/fork') {
    return args.length === 0 ? { kind: 'fork' } : { kind: 'invalid', message: 'usage: /fork' };
  }
  if (name !== '/rewind') return null;
  if (args.length === 0) return { kind: 'rewind-list' };
  const [turn, flag, ...rest] = args;
  const n = Number(turn);
  if (
    !Number.isInteger(n) ||
    n < 1 ||
    rest.length > 0 ||
    (flag !== undefined && flag !== '--files')
  )
    return {
      kind: 'invalid',
      message: 'usage: /rewind [N [--files]], N a turn number from /rewind',
    };
  return { kind: 'rewind', turn: n, files: flag === '--files' };
}

/** The conversation's turns the model sees, oldest first: ended runs, not rewound. */
async function turns(t: ChatTarget): Promise<{ id: string; startedAt: string; status: string }[]> {
  const runs = await t.wc.conversations.runs(t.conversationId);
  return runs.filter((r) => r.status !== 'running' && !r.rewound);
}

/** Runs a parsed command, printing what it did; API errors are the caller's to print. */
export async function runChatCommand(
  command: Parsed,
  t: ChatTarget,
  io: ChatOutput,
): Promise<void> {
  switch (command.kind) {
    case 'invalid':
      io.err(`${command.message}\n`);
      return;
    case 'fork': {
      const fork = await t.wc.conversations.fork(t.conversationId);
      io.err(`forked conversation ${t.conversationId} into ${fork.id}; continuing there\n`);
      t.conversationId = fork.id;
      return;
    }
    case 'rewind-list': {
      const list = await turns(t);
      if (list.length === 0) io.out('no turns yet\n');
      list.forEach((r, i) => io.out(`${i + 1}  ${r.id}  ${r.status}  ${r.startedAt}\n`));
      return;
    }
    case 'rewind': {
      const list = await turns(t);
      const run = list[command.turn - 1];
      if (run === undefined) {
        io.err(`no turn ${command.turn}: the conversation has ${list.length}\n`);
        return;
      }
      const rewound = await t.wc.conversations.rewind(t.conversationId, {
        toRunId: run.id,
        ...(command.files ? { files: true } : {}),
      });
      const files = rewound.snapshotId !== null ? `; files as of ${rewound.snapshotId}` : '';
      io.err(
        `rewound to turn ${command.turn} (${run.id}); ${rewound.rewoundRunIds.length} later turn(s) rewound${files}\n`,
      );
      return;
    }
  }
}
