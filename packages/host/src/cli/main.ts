import { parseArgs } from 'node:util';
import { startMockModel } from '@workcell/mock-model';
import { loadConfig, type ResolvedConfig } from '../config/load.js';
import { buildWorkspaceImage } from '../image/builder.js';
import { chat } from './chat.js';
import { createLogger, createWorkcell } from '../workcell.js';
import { withoutPassword } from '../state/redis-store.js';

const USAGE = `usage: workcell <command>

  serve [--mock-model]        start the host on its configured stores (embedded defaults when unset);
                              --mock-model runs the built-in mock model as the model upstream
  mock-model --port N         run the mock model alone on 127.0.0.1:N
  image build [--force]       build the workspace image (offline Debian base when no registry answers)
  gc --once                   run one garbage-collection pass and print what it did as JSON
  chat [--url U] [--token T] [--workspace W] [--conversation C] [-p PROMPT]
                              talk to a workspace's agent (workcell chat --help)

Configuration comes from WORKCELL_* environment variables (docs/configuration.md).`;

/** The `workcell` command line; answers the exit code. */
export async function main(argv: string[]): Promise<number | undefined> {
  const [command, ...rest] = argv;
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
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE);
      return 0;
    default:
      console.error(`workcell: unknown command '${command}'\n\n${USAGE}`);
      return 2;
  }
}

async function serve(args: string[]): Promise<number | undefined> {
  const { values } = parseArgs({
    args,
    options: { 'mock-model': { type: 'boolean', default: false } },
  });
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  const useMock = values['mock-model'] === true;
  if (!useMock && config.modelProvider === 'anthropic' && !config.anthropicApiKey) {
    logger.warn(
      'ANTHROPIC_API_KEY is not set: model requests will be refused upstream (use --mock-model for an offline demo)',
    );
  }
  const workcell = await createWorkcell(config, { logger, mockModel: useMock });
  const url = await workcell.listen();
  printBanner(
    config,
    url,
    workcell.mockModel?.url ?? null,
    workcell.generatedToken,
    workcell.objects.description,
    workcell.state.kind,
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

function printBanner(
  config: ResolvedConfig,
  url: string,
  mockUrl: string | null,
  token: string | null,
  objects: string,
  state: string,
): void {
  const lines = [
    `Workcell ${config.version} listening on ${url}`,
    `  state store:   ${state === 'redis' ? `redis (${withoutPassword(config.redisUrl ?? '')})` : 'in-process memory'}`,
    `  object store:  ${objects}`,
    `  containers:    docker, image ${config.image}, runtime ${config.runtime}, warm pool ${config.warmPoolSize}`,
    mockUrl
      ? `  model:         MOCK MODEL at ${mockUrl} (offline demo; no real model is called)`
      : `  model:         ${config.modelProvider} via ${config.modelProvider === 'bedrock' ? config.bedrockUpstream : config.anthropicUpstream}`,
  ];
  lines.push(`  console:       ${url}/`);
  if (token)
    lines.push(
      `  API token:     ${token}   (tenant 'local'; set WORKCELL_API_TOKENS to choose your own)`,
    );
  lines.push(`  chat:          npx workcell chat --url ${url} --token ${token ?? '<your token>'}`);
  console.log(lines.join('\n'));
}

async function mockModel(args: string[]): Promise<number | undefined> {
  const { values } = parseArgs({
    args,
    options: { port: { type: 'string' }, host: { type: 'string', default: '127.0.0.1' } },
  });
  const port = Number(values.port ?? '0');
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error('workcell mock-model: --port must be a port number');
    return 2;
  }
  const logger = createLogger('info');
  const model = await startMockModel({ port, host: values.host ?? '127.0.0.1', logger });
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
  if (sub !== 'build') {
    console.error('usage: workcell image build [--force] [--offline]');
    return 2;
  }
  const { values } = parseArgs({
    args: rest,
    options: {
      force: { type: 'boolean', default: false },
      offline: { type: 'boolean', default: false },
    },
  });
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
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
  const { values } = parseArgs({ args, options: { once: { type: 'boolean', default: false } } });
  if (values.once !== true) {
    console.error(
      'usage: workcell gc --once   (the serving host runs GC every WORKCELL_GC_INTERVAL_MS)',
    );
    return 2;
  }
  const config = loadConfig();
  const logger = createLogger(config.logLevel, process.stderr);
  const workcell = await createWorkcell(config, { logger });
  try {
    const report = await workcell.gc.runOnce();
    console.log(JSON.stringify(report, null, 2));
    return 0;
  } finally {
    await workcell.close(0);
  }
}
