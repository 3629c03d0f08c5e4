/** What `workcell --help` and `workcell <command> --help` print. */
export interface CommandHelp {
  /** The words that select the command: `serve`, `image build`. */
  name: string;
  /** The synopsis after `workcell`. */
  usage: string;
  /** One line for the list of commands. */
  summary: string;
  /** The options, one per line, for `workcell <command> --help`. */
  options: string[];
}

export const COMMANDS = {
  serve: {
    name: 'serve',
    usage: 'serve [--mock-model]',
    summary: 'start the host on its configured stores (embedded defaults when unset)',
    options: [
      '--mock-model   run the built-in mock model as the model upstream (offline demo)',
      '-h, --help     print this help',
    ],
  },
  'mock-model': {
    name: 'mock-model',
    usage: 'mock-model --port N [--host H]',
    summary: 'run the mock model alone on 127.0.0.1:N',
    options: [
      '--port N       the port to listen on (0 picks a free one)',
      '--host H       the address to listen on (default 127.0.0.1)',
      '-h, --help     print this help',
    ],
  },
  image: {
    name: 'image build',
    usage: 'image build [--force] [--offline]',
    summary: 'build the workspace image (offline Debian base when no registry answers)',
    options: [
      '--force        build even when nothing that goes into the image changed',
      '--offline      use the offline Debian base without trying the public one',
      '-h, --help     print this help',
    ],
  },
  gc: {
    name: 'gc',
    usage: 'gc --once',
    summary: 'run one garbage-collection pass and print what it did as JSON',
    options: [
      '--once         run one pass and exit (the serving host runs GC every WORKCELL_GC_INTERVAL_MS)',
      '-h, --help     print this help',
    ],
  },
  chat: {
    name: 'chat',
    usage: 'chat [--url U] [--token T] [--workspace W] [--conversation C] [-p PROMPT]',
    summary: "talk to a workspace's agent in the terminal",
    options: [
      '--url U            the host (default WORKCELL_URL, else http://127.0.0.1:WORKCELL_PORT)',
      '--token T          an API token (default WORKCELL_TOKEN)',
      '--workspace W      the workspace to talk in (default: a new one)',
      '--conversation C   a conversation to continue (default: a new one)',
      '-p, --print PROMPT send one message, print the reply and exit (0 completed, 1 failed, 2 usage)',
      '-h, --help         print this help',
    ],
  },
} as const satisfies Record<string, CommandHelp>;

export type CommandName = keyof typeof COMMANDS;

export function isCommand(word: string): word is CommandName {
  return Object.hasOwn(COMMANDS, word);
}

const FOOTER = 'Configuration comes from WORKCELL_* environment variables (docs/configuration.md).';

/** `workcell --help`. */
export function mainUsage(): string {
  const rows = Object.values(COMMANDS).map((c) => `  ${c.usage.padEnd(36)}${c.summary}`);
  return [
    'usage: workcell <command> [options]',
    '',
    ...rows,
    '',
    '  --version                           print the version',
    '  --help                              print this help; workcell <command> --help for one command',
    '',
    FOOTER,
  ].join('\n');
}

/** `workcell <command> --help`. */
export function commandUsage(command: CommandName): string {
  const c: CommandHelp = COMMANDS[command];
  return [
    `usage: workcell ${c.usage}`,
    '',
    `${c.summary[0]?.toUpperCase() ?? ''}${c.summary.slice(1)}.`,
    '',
    ...c.options.map((o) => `  ${o}`),
    '',
    FOOTER,
  ].join('\n');
}

/** A mistake in the command line: exits 2 with a one-line hint. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly command: CommandName | null = null,
  ) {
    super(message);
    this.name = 'UsageError';
  }

  /** `workcell serve: unknown option '--x'; run workcell serve --help`. */
  hint(): string {
    const name = this.command ? COMMANDS[this.command].name : null;
    return name
      ? `workcell ${name}: ${this.message}; run workcell ${name} --help`
      : `workcell: ${this.message}; run workcell --help`;
  }
}
