import { describe, expect, it } from 'vitest';
import { parseDirectives } from '../src/directives.js';

describe('tool directives with the Managed Agents toolset names', () => {
  it('calls the Claude Code tool with the input translated', () => {
    const parsed = parseDirectives(
      [
        'MOCK:{"tool": "bash", "input": {"command": "ls", "timeout_ms": 5000}}',
        'MOCK:{"tool": "read", "input": {"file_path": "notes.txt", "view_range": [10, 19]}}',
        'MOCK:{"tool": "web_fetch", "input": {"url": "https://example.org"}}',
        'MOCK:{"tool": "lookup_order", "input": {"id": 1}}',
      ].join('\n'),
    );
    expect(parsed.ok && parsed.directives).toEqual([
      { kind: 'tool', name: 'Bash', input: { command: 'ls', timeout: 5000 } },
      {
        kind: 'tool',
        name: 'Read',
        input: { file_path: '/workspace/notes.txt', offset: 10, limit: 10 },
      },
      { kind: 'tool', name: 'WebFetch', input: { url: 'https://example.org' } },
      { kind: 'tool', name: 'lookup_order', input: { id: 1 } },
    ]);
  });
});
