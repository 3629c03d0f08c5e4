import { Readable } from 'node:stream';
import { execBody, workspaceCwd } from '@workcell/protocol';
import { describe, expect, it } from 'vitest';
import { readAgentSettings, sdkEnvironment } from '../../../agent/src/sdk-env.js';
import { demuxDockerStream, exitStatusOf } from '../../src/containers/docker-exec.js';
import type { ExecChunk } from '../../src/containers/runtime.js';
import { execEnvironment } from '../../src/exec/exec-env.js';
import { CappedOutput } from '../../src/exec/exec-output.js';

/** One frame of Docker's multiplexed stream. */
function frame(type: number, text: string): Buffer {
  const payload = Buffer.from(text);
  const header = Buffer.alloc(8);
  header[0] = type;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

async function demux(pieces: Buffer[]): Promise<{ stream: string; text: string }[]> {
  const out: { stream: string; text: string }[] = [];
  for await (const c of demuxDockerStream(Readable.from(pieces)))
    out.push({ stream: c.stream, text: c.data.toString() });
  return out;
}

describe('the Docker exec stream', () => {
  it('splits stdout and stderr frames, however the bytes are cut', async () => {
    const bytes = Buffer.concat([
      frame(1, 'out one'),
      frame(2, 'err'),
      frame(0, ''),
      frame(1, 'é'),
    ]);
    const expected = [
      { stream: 'stdout', text: 'out one' },
      { stream: 'stderr', text: 'err' },
      { stream: 'stdout', text: 'é' },
    ];
    expect(await demux([bytes])).toEqual(expected);
    // Byte by byte: headers and payloads split anywhere.
    const single = [...bytes].map((b) => Buffer.from([b]));
    const joined = await demux(single);
    expect(joined.map((c) => c.stream)).toEqual(['stdout', 'stderr', 'stdout']);
    expect(joined.map((c) => c.text)).toEqual(['out one', 'err', 'é']);
  });

  it('reads 128+n as signal n and anything else as an exit code', () => {
    expect(exitStatusOf(0)).toEqual({ code: 0, signal: null });
    expect(exitStatusOf(127)).toEqual({ code: 127, signal: null });
    expect(exitStatusOf(137)).toEqual({ code: null, signal: 'SIGKILL' });
    expect(exitStatusOf(143)).toEqual({ code: null, signal: 'SIGTERM' });
    expect(exitStatusOf(255)).toEqual({ code: 255, signal: null });
    expect(exitStatusOf(null)).toEqual({ code: null, signal: null });
  });
});

describe('an exec request', () => {
  it('keeps cwd inside /workspace, resolving . and .. first', () => {
    expect(workspaceCwd('/workspace')).toBe('/workspace');
    expect(workspaceCwd('src/app')).toBe('/workspace/src/app');
    expect(workspaceCwd('./a/../b/')).toBe('/workspace/b');
    expect(workspaceCwd('/workspace/a/../..')).toBeNull();
    expect(workspaceCwd('..')).toBeNull();
    expect(workspaceCwd('/etc')).toBeNull();
    expect(workspaceCwd('/workspace2')).toBeNull();
    expect(workspaceCwd('/../workspace')).toBeNull();
  });

  it('names the failing field and the code of each refusal', () => {
    const refused = (body: unknown): string[] => {
      const parsed = execBody.safeParse(body);
      return parsed.success
        ? []
        : parsed.error.issues.map(
            (i) =>
              (i as { params?: { errorCode?: string } }).params?.errorCode ?? 'validation_failed',
          );
    };
    expect(
      refused({ command: ['ls', '-la'], cwd: 'src', env: { FOO: '1' }, timeoutMs: 5 }),
    ).toEqual([]);
    expect(refused({ command: ['ls'], env: { http_proxy: 'x' } })).toEqual(['env_not_allowed']);
    expect(refused({ command: ['ls'], env: { NODE_OPTIONS: '--require x' } })).toEqual([
      'env_not_allowed',
    ]);
    expect(refused({ command: ['ls'], cwd: '/proc' })).toEqual(['invalid_path']);
    expect(refused({ command: ['ls'], cwd: 'a\u0000b' })).toEqual(['invalid_path']);
    expect(refused({ command: ['a'.repeat(300 * 1024)] })).toEqual(['validation_failed']);
    expect(refused({ command: ['ls'], extra: 1 })).toEqual(['validation_failed']);
  });
});

describe('the environment of a command', () => {
  it("is the agent's tool environment (less PATH, which the image sets) with the placeholders", () => {
    for (const provider of ['anthropic', 'bedrock'] as const) {
      const agent = readAgentSettings({
        WORKCELL_MODEL_PROVIDER: provider,
        AWS_REGION: 'eu-west-1',
      });
      const placeholders = { WORKCELL_SECRET_API: 'wcs_abc' };
      const { PATH: _path, ...expected } = sdkEnvironment(agent, '/usr/bin', placeholders);
      expect(execEnvironment({ provider, awsRegion: 'eu-west-1' }, placeholders)).toEqual(expected);
    }
  });

  it('lets extra variables in but never over what it sets', () => {
    const env = execEnvironment(
      { provider: 'anthropic', awsRegion: 'us-east-1' },
      { WORKCELL_SECRET_API: 'wcs_real' },
      { FOO: 'bar', HTTPS_PROXY: 'http://evil', WORKCELL_SECRET_API: 'forged' },
    );
    expect(env.FOO).toBe('bar');
    expect(env.HTTPS_PROXY).toBe('http://127.0.0.1:3128');
    expect(env.WORKCELL_SECRET_API).toBe('wcs_real');
  });
});

describe('the capped output of a JSON answer', () => {
  it('keeps the first bytes of each stream and says when it dropped some', () => {
    const out = new CappedOutput(5);
    const add = (stream: ExecChunk['stream'], text: string): void =>
      out.add({ stream, data: Buffer.from(text) });
    add('stdout', 'abc');
    add('stderr', 'xy');
    expect(out.truncated).toBe(false);
    add('stdout', 'defgh');
    add('stdout', 'more');
    expect(out.text('stdout')).toBe('abcde');
    expect(out.text('stderr')).toBe('xy');
    expect(out.truncated).toBe(true);
  });
});
