import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const NODE_ARGS = [
  '--import',
  'tsx',
  '--import',
  './test/orchestrator/register-aliases.mjs',
  'test/orchestrator/host-process.ts',
];

/**
 * The environment of a child host: this process's, minus every WORKCELL_* setting but the
 * workspace image under test, plus `env`.
 */
function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) => (!k.startsWith('WORKCELL_') || k === 'WORKCELL_IMAGE') && k !== 'ANTHROPIC_API_KEY',
    ),
  );
  return { ...base, ...env };
}

export interface ChildHost {
  url: string;
  child: ChildProcess;
  /** What the host wrote on stderr (its logs), for failure messages. */
  stderr(): string;
  /** `kill -9`, and wait for the process to be gone. */
  kill9(): Promise<void>;
  /** SIGTERM (graceful shutdown), and wait. */
  stop(): Promise<void>;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Starts `workcell serve` (with the mock model) in a child process; resolves once it listens. */
export async function spawnHost(
  env: Record<string, string>,
  timeoutMs = 60_000,
): Promise<ChildHost> {
  const child = spawn(process.execPath, [...NODE_ARGS, 'serve'], {
    cwd: REPO,
    env: childEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (stderr.length > 200_000) stderr = stderr.slice(-100_000);
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () =>
        reject(new Error(`child host did not start in ${timeoutMs} ms:\n${stderr.slice(-4000)}`)),
      timeoutMs,
    );
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.on('line', (line) => {
      try {
        const parsed = JSON.parse(line) as { url?: string };
        if (parsed.url) {
          clearTimeout(timer);
          resolve(parsed.url);
        }
      } catch {
        // Not the ready line.
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(
        new Error(
          `child host exited (${code ?? signal}) before listening:\n${stderr.slice(-4000)}`,
        ),
      );
    });
  });
  return {
    url,
    child,
    stderr: () => stderr,
    async kill9() {
      child.kill('SIGKILL');
      await exited(child);
    },
    async stop() {
      child.kill('SIGTERM');
      await exited(child);
    },
  };
}

/** Runs the `workcell` command line in a child process; answers its exit code and stdout. */
export async function runCli(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [...NODE_ARGS, ...args], {
    cwd: REPO,
    env: childEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number>((resolve) => child.once('exit', (c) => resolve(c ?? 1)));
  return { code, stdout, stderr };
}
