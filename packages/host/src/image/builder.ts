import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  linkSync,
  copyFileSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { imageNodeVersion, imageNpmVersion, stageNodeBinary, stageNpm } from './node-runtime.js';

/**
 * The public base used on machines where a registry answers: plain Debian, since Node itself
 * comes from the npm registry (`node-runtime.ts`) whatever the base.
 */
export const PUBLIC_BASE = 'debian:bookworm-slim';
/**
 * The offline base built from Debian packages by image/build-base.sh. A base made before a
 * package joined the script's list lacks it; the Dockerfile's apt step installs what is missing.
 */
export const OFFLINE_BASE = 'workcell/base:bookworm';
const HASH_LABEL = 'workcell.context-hash';

export interface ImageBuildResult {
  image: string;
  base: string;
  built: boolean;
  contextHash: string;
  durationMs: number;
}

/** The repository root: the directory holding `image/Dockerfile`. */
export function findRepoRoot(start: string = dirname(fileURLToPath(import.meta.url))): string {
  let dir = resolve(start);
  for (;;) {
    if (existsSync(join(dir, 'image', 'Dockerfile'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the Workcell repository (image/Dockerfile)');
    dir = parent;
  }
}

function run(
  cmd: string,
  args: string[],
  options: { input?: string; timeoutMs?: number; logger?: Logger } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (options.logger)
        for (const line of d.toString().split('\n').filter(Boolean))
          options.logger.debug({ cmd }, line);
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = options.timeoutMs
      ? setTimeout(() => child.kill('SIGKILL'), options.timeoutMs)
      : null;
    child.on('error', reject);
    child.on('close', (code) => {
      if (timer) clearTimeout(timer);
      resolvePromise({ code: code ?? -1, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

async function imageLabel(image: string, label: string): Promise<string | null> {
  const r = await run('docker', [
    'image',
    'inspect',
    '--format',
    `{{ index .Config.Labels "${label}" }}`,
    image,
  ]);
  if (r.code !== 0) return null;
  const value = r.stdout.trim();
  return value === '<no value>' ? '' : value;
}

async function imageExists(image: string): Promise<boolean> {
  return (await run('docker', ['image', 'inspect', image])).code === 0;
}

/** Picks the base: the public Node image if present or pullable, else the offline Debian base. */
async function chooseBase(root: string, logger: Logger, preferOffline: boolean): Promise<string> {
  if (!preferOffline) {
    if (await imageExists(PUBLIC_BASE)) return PUBLIC_BASE;
    const pull = await run('docker', ['pull', PUBLIC_BASE], { timeoutMs: 60_000 });
    if (pull.code === 0) return PUBLIC_BASE;
    logger.info(
      { base: PUBLIC_BASE },
      'public base image cannot be pulled; using the offline Debian base',
    );
  }
  if (!(await imageExists(OFFLINE_BASE))) {
    logger.info(
      { base: OFFLINE_BASE },
      'building the offline base with debootstrap (about a minute)',
    );
    const r = await run(join(root, 'image', 'build-base.sh'), [OFFLINE_BASE], { logger });
    if (r.code !== 0) throw new Error(`offline base build failed: ${r.stderr || r.stdout}`);
  }
  return OFFLINE_BASE;
}

/** The native Claude Code CLI shipped by the SDK's platform package. */
function claudeBinary(root: string): { path: string; version: string } {
  const require = createRequire(join(root, 'packages', 'agent', 'package.json'));
  const pkgJson = require.resolve('@anthropic-ai/claude-agent-sdk-linux-x64/package.json');
  const version = (JSON.parse(readFileSync(pkgJson, 'utf8')) as { version: string }).version;
  return { path: join(dirname(pkgJson), 'claude'), version };
}

/** Bundles the agent (and the SDK's JavaScript) into one file with esbuild. */
function bundleAgent(root: string): Promise<string> {
  const agentDir = join(root, 'packages', 'agent');
  return new Promise((res, rej) => {
    const child = spawn('node', ['build.mjs'], {
      cwd: agentDir,
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    child.on('error', rej);
    child.on('close', (code) =>
      code === 0
        ? res(join(agentDir, 'bundle', 'agent.mjs'))
        : rej(new Error(`agent bundle failed (exit ${code})`)),
    );
  });
}

function linkOrCopy(from: string, to: string): void {
  try {
    linkSync(from, to);
  } catch {
    copyFileSync(from, to);
  }
}

/**
 * Builds the workspace image `image`: bundles the agent, stages a build context with the
 * SDK's native CLI, the Node.js binary of `image/node-version` and npm of `image/npm-version`, and runs `docker build` on the chosen base. A rebuild is skipped when the
 * image already carries the same context hash (Dockerfile, agent bundle, CLI version, base, Node version).
 */
export async function buildWorkspaceImage(options: {
  image: string;
  version: string;
  dataDir: string;
  logger: Logger;
  force?: boolean;
  preferOffline?: boolean;
}): Promise<ImageBuildResult> {
  const started = Date.now();
  const { image, version, logger } = options;
  const root = findRepoRoot();
  const agentBundle = await bundleAgent(root);
  const cli = claudeBinary(root);
  const dockerfile = readFileSync(join(root, 'image', 'Dockerfile'));
  const base = await chooseBase(root, logger, options.preferOffline ?? false);
  const nodeVersion = imageNodeVersion(root);
  const nodeBinary = await stageNodeBinary(root, nodeVersion, logger);
  const npmVersion = imageNpmVersion(root);
  const npmDir = await stageNpm(root, npmVersion, logger);

  const hash = createHash('sha256');
  hash.update(dockerfile);
  hash.update(readFileSync(agentBundle));
  hash.update(`cli:${cli.version}:${statSync(cli.path).size}`);
  hash.update(`base:${base}:version:${version}:node:${nodeVersion}:npm:${npmVersion}`);
  const contextHash = hash.digest('hex').slice(0, 32);

  if (!options.force && (await imageLabel(image, HASH_LABEL)) === contextHash) {
    logger.info({ image, contextHash }, 'workspace image is up to date');
    return { image, base, built: false, contextHash, durationMs: Date.now() - started };
  }

  const context = join(resolve(options.dataDir), 'image-context');
  rmSync(context, { recursive: true, force: true });
  mkdirSync(context, { recursive: true });
  copyFileSync(join(root, 'image', 'Dockerfile'), join(context, 'Dockerfile'));
  copyFileSync(agentBundle, join(context, 'agent.mjs'));
  linkOrCopy(cli.path, join(context, 'claude'));
  linkOrCopy(nodeBinary, join(context, 'node'));
  cpSync(npmDir, join(context, 'npm'), { recursive: true });

  logger.info({ image, base }, 'building the workspace image');
  const r = await run(
    'docker',
    [
      'build',
      '--build-arg',
      `BASE=${base}`,
      '--build-arg',
      `WORKCELL_VERSION=${version}`,
      '--label',
      `${HASH_LABEL}=${contextHash}`,
      '--label',
      'workcell.managed=true',
      '-t',
      image,
      context,
    ],
    { logger },
  );
  rmSync(context, { recursive: true, force: true });
  if (r.code !== 0)
    throw new Error(`docker build failed: ${r.stderr.slice(-4000) || r.stdout.slice(-4000)}`);
  logger.info({ image, durationMs: Date.now() - started }, 'workspace image built');
  return { image, base, built: true, contextHash, durationMs: Date.now() - started };
}
