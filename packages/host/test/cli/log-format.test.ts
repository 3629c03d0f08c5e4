import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/load.js';
import { formatBanner } from '../../src/cli/banner.js';
import { chooseLogFormat, cliLogger, prettyLine } from '../../src/cli/log-format.js';

/** A stream that keeps what is written, and says whether it is a terminal. */
function sink(isTTY: boolean): Writable & { isTTY: boolean; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _enc, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return Object.assign(stream, { isTTY, text: () => chunks.join('') });
}

const ESC = '\x1b[';

describe('command-line logs', () => {
  it('are pretty on a terminal and JSON otherwise', () => {
    expect(chooseLogFormat({ isTTY: true })).toBe('pretty');
    expect(chooseLogFormat({ isTTY: false })).toBe('json');
    expect(chooseLogFormat({})).toBe('json');
  });

  it('on a terminal: one coloured line with the level, message and fields', () => {
    const out = sink(true);
    cliLogger('info', out).warn({ workspaceId: 'ws_1', attempt: 2 }, 'container slow to start');
    const line = out.text();
    expect(line).toContain(`${ESC}33mWARN `);
    expect(line).toContain('container slow to start');
    expect(line).toMatch(/workspaceId=.*ws_1/);
    expect(line).toMatch(/attempt=.*2/);
    expect(line).not.toContain('"level"');
    expect(line).toMatch(/^\S*\d\d:\d\d:\d\d\.\d{3}/);
    expect(line.endsWith('\n')).toBe(true);
  });

  it('on a terminal: an error shows its stack under the line', () => {
    const out = sink(true);
    cliLogger('info', out).error({ err: new Error('docker went away') }, 'reconcile failed');
    expect(out.text()).toContain(`${ESC}31mERROR`);
    expect(out.text()).toMatch(/\n.*Error: docker went away\n\s+at /);
  });

  it('elsewhere: one JSON object a line', () => {
    const out = sink(false);
    cliLogger('info', out).info({ workspaceId: 'ws_1' }, 'hello');
    const entry = JSON.parse(out.text()) as Record<string, unknown>;
    expect(entry).toMatchObject({ level: 30, msg: 'hello', workspaceId: 'ws_1' });
    expect(out.text()).not.toContain(ESC);
  });

  it('never carry a token, pretty or JSON', () => {
    for (const tty of [true, false]) {
      const out = sink(tty);
      cliLogger('info', out).info({ token: 'wc_secret_value' }, 'auth');
      expect(out.text()).not.toContain('wc_secret_value');
    }
  });

  it('pass a line that is not JSON through unchanged', () => {
    expect(prettyLine('plain text')).toBe('plain text\n');
  });
});

describe('the serve banner', () => {
  const config = resolveConfig({});

  it('prints a generated API token once', () => {
    const token = 'wc_abcdefghijklmnopqrstuvwxyz012345';
    const banner = formatBanner(config, {
      url: 'http://127.0.0.1:8080',
      mockModelUrl: 'http://127.0.0.1:9999',
      generatedToken: token,
      objects: 'directory ./.workcell/objects',
      state: 'memory',
    });
    expect(banner.split(token)).toHaveLength(2);
    expect(banner).toContain('listening on http://127.0.0.1:8080');
    expect(banner).toContain('MOCK MODEL');
  });

  it('prints no token line when tokens are configured', () => {
    const banner = formatBanner(config, {
      url: 'http://127.0.0.1:8080',
      mockModelUrl: null,
      generatedToken: null,
      objects: 'directory',
      state: 'memory',
    });
    expect(banner).not.toContain('API token');
  });

  it('names the console and the chat command without repeating the token', () => {
    const banner = formatBanner(config, {
      url: 'http://127.0.0.1:8080',
      mockModelUrl: null,
      generatedToken: 'tok_generated_0123',
      objects: 'directory',
      state: 'memory',
    });
    expect(banner).toContain('console:       http://127.0.0.1:8080/');
    expect(banner).toContain('npx workcell chat --url http://127.0.0.1:8080');
    expect(banner.split('tok_generated_0123')).toHaveLength(2);
  });
});
