import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../packages/host/src/config/load.js';

const run = promisify(execFile);
const IMAGE = process.env.WORKCELL_IMAGE ?? resolveConfig({}).image;
const PINNED = readFileSync(new URL('../../image/node-version', import.meta.url), 'utf8').trim();

describe('the workspace image runs a supported Node.js LTS', () => {
  it('runs the Node of image/node-version, the one the agent is started with, as uid 1000', async () => {
    const { stdout } = await run('docker', [
      'run',
      '--rm',
      '--network',
      'none',
      '--entrypoint',
      'sh',
      IMAGE,
      '-c',
      // The agent's entrypoint names /usr/local/bin/node; `node` on PATH must be the same.
      'node -p process.versions.node; /usr/local/bin/node -p process.versions.node; id -u',
    ]);
    const [onPath, entrypointNode, uid] = stdout.trim().split('\n');
    expect(entrypointNode).toBe(PINNED);
    expect(onPath).toBe(PINNED);
    expect(uid).toBe('1000');
    const major = Number(PINNED.split('.')[0]);
    expect([22, 24]).toContain(major);
  });

  it('starts the agent with that Node', async () => {
    const { stdout } = await run('docker', [
      'image',
      'inspect',
      '--format',
      '{{json .Config.Entrypoint}}',
      IMAGE,
    ]);
    expect(JSON.parse(stdout) as string[]).toEqual([
      '/usr/local/bin/node',
      '/opt/workcell/agent.mjs',
    ]);
  });
});
