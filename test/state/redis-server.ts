import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../support/free-port.js';

export { freePort };

/** A throwaway redis-server on a loopback port of its own, for tests that kill and restart it. */
export interface ScratchRedis {
  readonly port: number;
  readonly url: string;
  /** Kills the server with SIGKILL and waits until the process is gone. */
  kill(): Promise<void>;
  /** Starts the server again on the same port, with no data. */
  start(): Promise<void>;
  /** Stops the server process (SIGSTOP): connections stay open and nothing answers. */
  pause(): void;
  /** Lets a paused server go on (SIGCONT), its data as it was. */
  resume(): void;
  /** Kills the server if it runs and removes its directory. */
  dispose(): Promise<void>;
}

async function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export async function startScratchRedis(): Promise<ScratchRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'workcell-redis-'));
  let child: ChildProcess | null = null;
  let output = '';

  const kill = async (): Promise<void> => {
    const running = child;
    child = null;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGKILL');
    await exited;
  };

  const start = async (): Promise<void> => {
    const proc = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        dir,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child = proc;
    proc.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    proc.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const deadline = Date.now() + 10_000;
    while (!(await accepts(port))) {
      if (proc.exitCode !== null) throw new Error(`redis-server on port ${port} exited: ${output}`);
      if (Date.now() > deadline)
        throw new Error(`redis-server on port ${port} did not start: ${output}`);
      await sleep(20);
    }
  };

  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    kill,
    start,
    pause: () => {
      child?.kill('SIGSTOP');
    },
    resume: () => {
      child?.kill('SIGCONT');
    },
    dispose: async () => {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
