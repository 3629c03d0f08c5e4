import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { contextFingerprint } from '../src/context-fingerprint.js';
import { optionsKey, readReadySettings, ReadyAgents } from '../src/ready.js';
import { readAgentSettings } from '../src/sdk-env.js';

const logger = pino({ level: 'silent' });
const names = { enabled: 'P', idleMs: 'I', options: 'O', firstRun: 'F' };
const dirs: string[] = [];

function workspace(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ready-'));
  dirs.push(dir);
  return dir;
}

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** Sets a file's modification time apart from the previous write's. */
function write(path: string, text: string, mtimeSec: number): void {
  writeFileSync(path, text);
  utimesSync(path, mtimeSec, mtimeSec);
}

describe('the context a Claude Code process reads at start', () => {
  it('changes with the memory files and .claude settings, not with other files', async () => {
    const dir = workspace();
    const empty = await contextFingerprint(dir);
    write(join(dir, 'notes.txt'), 'x', 1000);
    expect(await contextFingerprint(dir)).toBe(empty);
    write(join(dir, 'CLAUDE.md'), 'one', 1000);
    const withMemory = await contextFingerprint(dir);
    expect(withMemory).not.toBe(empty);
    mkdirSync(join(dir, '.claude'));
    write(join(dir, '.claude', 'settings.json'), '{}', 1000);
    const withSettings = await contextFingerprint(dir);
    expect(withSettings).not.toBe(withMemory);
    write(join(dir, '.claude', 'settings.json'), '{"a":1}', 2000);
    expect(await contextFingerprint(dir)).not.toBe(withSettings);
  });

  it('covers every file of a git work tree (the CLI snapshots git status)', async () => {
    const dir = workspace();
    mkdirSync(join(dir, '.git'));
    write(join(dir, '.git', 'HEAD'), 'ref: refs/heads/main\n', 1000);
    write(join(dir, 'src.ts'), 'a', 1000);
    const before = await contextFingerprint(dir);
    write(join(dir, 'src.ts'), 'ab', 2000);
    expect(await contextFingerprint(dir)).not.toBe(before);
  });
});

describe('which runs a ready process fits', () => {
  const agent = readAgentSettings({});

  it('keys on the options, not on the prompt, the run id or the session', () => {
    const base = optionsKey(agent, { runId: 'a', prompt: 'one' });
    expect(optionsKey(agent, { runId: 'b', prompt: 'two', resumeSessionId: 's' })).toBe(base);
    expect(optionsKey(agent, { runId: 'a', prompt: 'one', options: { model: 'm' } })).not.toBe(
      base,
    );
    expect(
      optionsKey(agent, {
        runId: 'a',
        prompt: 'one',
        env: { WORKCELL_SECRET_TOKEN: 'wcs_abcdefghijklmnop' },
      }),
    ).not.toBe(base);
  });

  it('reads its settings from the environment; bad pool options start nothing', () => {
    expect(readReadySettings({ P: 'false' }, names, logger).enabled).toBe(false);
    const on = readReadySettings({ I: '5000', O: '{"maxTurns": 3}' }, names, logger);
    expect(on).toEqual({
      enabled: true,
      idleMs: 5000,
      poolOptions: { maxTurns: 3 },
      firstRun: null,
    });
    expect(readReadySettings({ O: '{"bogus": 1}' }, names, logger).poolOptions).toBeNull();
    const first = readReadySettings(
      { F: '{"resumeSessionId": "s1", "options": {"maxTurns": 2}}' },
      names,
      logger,
    );
    expect(first.firstRun).toEqual({ resumeSessionId: 's1', options: { maxTurns: 2 } });
    // Only what a ready process is made of: never a run id, a prompt or a control token.
    expect(readReadySettings({ F: '{"prompt": "hi"}' }, names, logger).firstRun).toBeNull();
    expect(readReadySettings({ F: 'not json' }, names, logger).firstRun).toBeNull();
  });

  it("a container started for a run starts its process for that run's session and options", async () => {
    const dir = workspace();
    const settings = {
      ...readAgentSettings({}),
      workspaceDir: dir,
      claudeExecutable: '/nonexistent',
    };
    const firstRun = { resumeSessionId: 'session-1', options: { maxTurns: 2 } };
    const make = (): ReadyAgents =>
      new ReadyAgents(
        settings,
        { enabled: true, idleMs: 60_000, poolOptions: {}, firstRun },
        logger,
      );
    let ready = make();
    ready.preparePool();
    expect((await ready.take({ runId: 'r', prompt: 'p', options: { maxTurns: 2 } })).reason).toBe(
      'session_changed',
    );
    ready = make();
    ready.preparePool();
    expect(
      (await ready.take({ runId: 'r', prompt: 'p', resumeSessionId: 'session-1' })).reason,
    ).toBe('options_changed');
    ready = make();
    ready.preparePool();
    // The run it was started for fits (this process cannot start here: no CLI binary).
    expect(
      (
        await ready.take({
          runId: 'r',
          prompt: 'p',
          resumeSessionId: 'session-1',
          options: { maxTurns: 2 },
        })
      ).reason,
    ).toBe('start_failed');
  });

  it('answers why a run starts a fresh process when there is no ready one', async () => {
    const off = new ReadyAgents(agent, { enabled: false, idleMs: 1000, poolOptions: null }, logger);
    expect(await off.take({ runId: 'r', prompt: 'p' })).toEqual({
      process: null,
      reason: 'disabled',
    });
    const none = new ReadyAgents(agent, { enabled: true, idleMs: 1000, poolOptions: null }, logger);
    none.preparePool();
    expect(none.ready).toBe(false);
    expect(await none.take({ runId: 'r', prompt: 'p' })).toEqual({ process: null, reason: 'none' });
  });

  it('a release during a run keeps the run from starting one for the next turn, once', async () => {
    const ready = new ReadyAgents(
      agent,
      { enabled: true, idleMs: 60_000, poolOptions: null },
      logger,
    );
    expect(ready.release(true)).toBe(false);
    ready.prepareNextTurn({ runId: 'r', prompt: 'p' }, 'session-1');
    expect(ready.ready).toBe(false);
    expect(await ready.take({ runId: 'r2', prompt: 'p', resumeSessionId: 'session-1' })).toEqual({
      process: null,
      reason: 'none',
    });
  });
});
