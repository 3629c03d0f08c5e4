import { parseArgs, type ParseArgsConfig } from 'node:util';
import { startMockModel } from '@workcell/mock-model';
import { loadConfig, WORKCELL_VERSION } from '../config/load.js';
import { buildWorkspaceImage } from '../image/builder.js';
import { createWorkcell } from '../workcell.js';
import { chat } from './chat.js';
import { formatBanner } from './banner.js';
import { commandUsage, isCommand, mainUsage, UsageError, type CommandName } from './commands.js';
import { cliLogger } from './log-format.js';

/**
 * The `workcell` command line; answers the exit code (2 for a usage error, printed as one
 * line with a hint), or undefined for a command that keeps running (serve, mock-model).
 */
export async function main(argv: string[]): Promise<number | undefined> {
  try {
    return await dispatch(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(err.hint());
      return 2;
    }
    throw err;
  }
}

async function dispatch(argv: string[]): Promise<number | undefined> {
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      if (command === 'help' && rest[0] !== undefined) return help(rest[0]);
      console.log(mainUsage());
      return 0;
    case '--version':
    case '-v':
    case 'version':
      console.log(`workcell ${WORKCELL_VERSION}`);
      return 0;
  }
  if (!isCommand(command)) {
    throw new UsageError(
      command.startsWith('-') ? `unknown option "${command}"` : `unknown command "${command}"`,
    );
  }
  switch (command) {
    case 'serve':
      return serve(rest);
    case 'mock-model':
      return mockModel(rest);
    case 'image':
      return image(rest);
    case 'gc':
      return gc(rest);
    case 'chat':
      return chat(rest);
  }
}

function help(word: string): number {
  if (!isCommand(word)) throw new UsageError(`unknown command "${word}"`);
  console.log(commandUsage(word));
  return 0;
}

type Options = NonNullable<ParseArgsConfig['options']>;
/** Parsed option values; no option here is `multiple`, so a value is one string or boolean. */
type Values = Record<string, string | boolean | undefined>;

/**
 * Parses a command's options strictly; `--help` prints the command's help. Answers null when
 * help was printed (the command then exits 0).
 */
function options(command: CommandName, args: string[], spec: Options): Values | null {
  const withHelp: Options = { ...spec, help: { type: 'boolean', short: 'h' } };
  let values: Values;
  try {
    values = parseArgs({ args, options: withHelp, strict: true, allowPositionals: false })
      .values as Values;
  } catch (err) {
    // node:util's messages run over several sentences; the first one names the mistake.
    const message = err instanceof Error ? (err.message.split(/\.\s/)[0] ?? err.message) : '';
    throw new UsageError(message.charAt(0).toLowerCase() + message.slice(1), command);
  }
  if (values.help === true) {
    console.log(commandUsage(command));
    return null;
  }
  return values;
}

async function serve(args: string[]): Promise<number | undefined> {
  const values = options('serve', args, { 'mock-model': { type: 'boolean', default: false } });
  if (!values) return 0;
  const config = loadConfig();
  const logger = cliLogger(config.logLevel);
  const useMock = values['mock-model'] === true;
  if (!useMock && config.modelProvider === 'anthropic' && !config.anthropicApiKey) {
    logger.warn(
      'ANTHROPIC_API_KEY is not set: model requests will be refused upstream (use --mock-model for an offline demo)',
    );
  }
  const workcell = await createWorkcell(config, { logger, mockModel: useMock });
  const url = await workcell.listen();
  console.log(
    formatBanner(config, {
      url,
      mockModelUrl: workcell.mockModel?.url ?? null,
      generatedToken: workcell.generatedToken,
      objects: workcell.objects.description,
      state: workcell.state.kind,
    }),
  );

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info(
      { signal, deadlineMs: config.shutdownTimeoutMs },
      'shutting down: no new runs; waiting for runs in progress (a second signal exits at once)',
    );
    workcell.close(config.shutdownTimeoutMs).then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  return undefined;
}

async function mockModel(args: string[]): Promise<number | undefined> {
  const values = options('mock-model', args, {
    port: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
  });
  if (!values) return 0;
  const portText = values.port;
  if (typeof portText !== 'string') throw new UsageError('--port is required', 'mock-model');
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) {
    throw new UsageError(`--port must be a port number, not '${portText}'`, 'mock-model');
  }
  const host = typeof values.host === 'string' ? values.host : '127.0.0.1';
  const logger = cliLogger('info');
  const model = await startMockModel({ port, host, logger });
  console.log(`mock model listening on ${model.url}`);
  const stop = (): void => {
    void model.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  return undefined;
}

async function image(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === '--help' || sub === '-h') {
    console.log(commandUsage('image'));
    return 0;
  }
  if (sub !== 'build') {
    throw new UsageError(
      sub === undefined ? 'missing subcommand (build)' : `unknown subcommand '${sub}'`,
      'image',
    );
  }
  const values = options('image', rest, {
    force: { type: 'boolean', default: false },
    offline: { type: 'boolean', default: false },
  });
  if (!values) return 0;
  const config = loadConfig();
  const logger = cliLogger(config.logLevel);
  const result = await buildWorkspaceImage({
    image: config.image,
    version: config.version,
    dataDir: config.dataDir,
    logger,
    force: values.force === true,
    preferOffline: values.offline === true,
  });
  console.log(
    result.built
      ? `built ${result.image} on ${result.base} in ${(result.durationMs / 1000).toFixed(1)} s`
      : `${result.image} is up to date (nothing that goes into it changed)`,
  );
  return 0;
}

/**
 * One GC pass from outside the serving host, safe beside running hosts: it takes the shared
 * `gc` lease, never touches a container with a run in progress, and a container with no state
 * that a live host still holds (its egress socket answers) gets its record rebuilt, not removed;
 * so with the in-process state store it removes only what no live host holds. Start-up
 * reconciliation (adopting containers) stays with `serve`.
 */
async function gc(args: string[]): Promise<number> {
  const values = options('gc', args, { once: { type: 'boolean', default: false } });
  if (!values) return 0;
  if (values.once !== true) {
    throw new UsageError(
      '--once is required (the serving host runs GC every WORKCELL_GC_INTERVAL_MS)',
      'gc',
    );
  }
  const config = loadConfig();
  // The report goes to stdout as JSON; logs go to stderr.
  const logger = cliLogger(config.logLevel, process.stderr);
  const workcell = await createWorkcell(config, { logger });
  try {
    const report = await workcell.gc.runOnce();
    console.log(JSON.stringify(report, null, 2));
    return 0;
  } finally {
    await workcell.close(0);
  }
}
