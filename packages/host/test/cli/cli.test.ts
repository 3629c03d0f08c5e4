import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { WORKCELL_VERSION } from '../../src/config/load.js';

const BIN = fileURLToPath(new URL('../../bin/workcell.js', import.meta.url));

/** Runs the built command line as a user does. */
function workcell(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 15_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('the workcell command line', () => {
  it('is built (npm run build) before these tests run', () => {
    expect(existsSync(fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url)))).toBe(
      true,
    );
  });

  it('prints its version', () => {
    const r = workcell('--version');
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(`workcell ${WORKCELL_VERSION}`);
  });

  it('lists every command in --help', () => {
    const r = workcell('--help');
    expect(r.status).toBe(0);
    for (const command of ['serve', 'mock-model', 'image build', 'gc --once', '--version'])
      expect(r.stdout).toContain(command);
  });

  it.each([
    [['serve', '--help'], 'usage: workcell serve', '--mock-model'],
    [['mock-model', '--help'], 'usage: workcell mock-model', '--port N'],
    [['image', 'build', '--help'], 'usage: workcell image build', '--offline'],
    [['image', '--help'], 'usage: workcell image build', '--force'],
    [['gc', '--help'], 'usage: workcell gc', '--once'],
    [['gc', '-h'], 'usage: workcell gc', '--once'],
    [['help', 'serve'], 'usage: workcell serve', '--mock-model'],
  ])('prints the help of %j without running it', (args, usage, option) => {
    const r = workcell(...args);
    expect(r.status).toBe(0);
    expect(r.stdout.startsWith(usage)).toBe(true);
    expect(r.stdout).toContain(option);
    expect(r.stderr).toBe('');
  });

  it.each([
    [['frobnicate'], 'workcell: unknown command "frobnicate"; run workcell --help'],
    [['--frobnicate'], 'workcell: unknown option "--frobnicate"; run workcell --help'],
    [['help', 'frobnicate'], 'workcell: unknown command "frobnicate"; run workcell --help'],
    [['serve', '--bogus'], "workcell serve: unknown option '--bogus'; run workcell serve --help"],
    [['serve', 'extra'], 'run workcell serve --help'],
    [
      ['image'],
      'workcell image build: missing subcommand (build); run workcell image build --help',
    ],
    [['image', 'push'], "workcell image build: unknown subcommand 'push'"],
    [['gc'], 'workcell gc: --once is required'],
    [['mock-model'], 'workcell mock-model: --port is required; run workcell mock-model --help'],
    [['mock-model', '--port', 'http'], "--port must be a port number, not 'http'"],
    [['mock-model', '--port', '70000'], "--port must be a port number, not '70000'"],
  ])('answers %j with exit 2 and a one-line hint', (args, hint) => {
    const r = workcell(...args);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(hint);
    expect(r.stderr).toMatch(/run workcell .*--help\n$/);
  });

  it('says to build, not a stack trace, when run before a build', () => {
    const dir = mkdtempSync(join(tmpdir(), 'workcell-unbuilt-'));
    try {
      mkdirSync(join(dir, 'bin'));
      copyFileSync(BIN, join(dir, 'bin', 'workcell.js'));
      const r = spawnSync(process.execPath, [join(dir, 'bin', 'workcell.js'), '--version'], {
        encoding: 'utf8',
      });
      expect(r.status).toBe(1);
      expect(r.stderr.trim()).toBe(
        'workcell: the command line is not built yet; run `npm run build` in the repository (or `npm start`, which installs, builds and serves)',
      );
      expect(r.stderr).not.toMatch(/\n\s+at /);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
