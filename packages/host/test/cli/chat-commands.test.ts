import { describe, expect, it } from 'vitest';
import { parseChatCommand } from '../../src/cli/chat-commands.js';

describe('chat commands', () => {
  it('reads /fork, /rewind, /rewind N and /rewind N --files', () => {
    expect(parseChatCommand('/fork')).toEqual({ kind: 'fork' });
    expect(parseChatCommand('  /rewind ')).toEqual({ kind: 'rewind-list' });
    expect(parseChatCommand('/rewind 3')).toEqual({ kind: 'rewind', turn: 3, files: false });
    expect(parseChatCommand('/rewind 1 --files')).toEqual({ kind: 'rewind', turn: 1, files: true });
  });

  it('refuses malformed commands without sending them as messages', () => {
    for (const line of [
      '/fork now',
      '/rewind 0',
      '/rewind x',
      '/rewind 1.5',
      '/rewind 2 files',
      '/rewind 2 --files x',
    ])
      expect(parseChatCommand(line)?.kind, line).toBe('invalid');
  });

  it('leaves every other line, other slash commands too, to be sent as a message', () => {
    for (const line of ['hello', '/compact', '/forked', 'please /rewind 2'])
      expect(parseChatCommand(line), line).toBeNull();
  });
});
