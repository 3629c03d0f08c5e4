import { describe, expect, it } from 'vitest';
import { planTurn, resolveToolName } from '../src/directives.js';

const OFFERED = [
  'Bash',
  'Write',
  'mcp__workcell_client__lookup_order',
  'mcp__github__create_issue',
];

describe('a tool directive names an offered tool', () => {
  it('calls a client tool by the name the settings gave it', () => {
    expect(resolveToolName('lookup_order', OFFERED)).toBe('mcp__workcell_client__lookup_order');
    expect(resolveToolName('Lookup_Order', OFFERED)).toBe('mcp__workcell_client__lookup_order');
  });

  it('matches a built-in tool ignoring case and keeps exact names', () => {
    expect(resolveToolName('bash', OFFERED)).toBe('Bash');
    expect(resolveToolName('Write', OFFERED)).toBe('Write');
    expect(resolveToolName('mcp__github__create_issue', OFFERED)).toBe('mcp__github__create_issue');
  });

  it('calls a name nothing offered matches as given', () => {
    expect(resolveToolName('Unknown', OFFERED)).toBe('Unknown');
  });

  it('plans the call with the offered name', () => {
    const plan = planTurn({
      userText: 'MOCK:{"tool": "lookup_order", "input": {"orderId": "A1"}}',
      priorUserTurns: 0,
      toolCallsSincePrompt: 0,
      toolsOffered: true,
      offeredTools: OFFERED,
    });
    expect(plan.blocks).toEqual([
      {
        type: 'tool_use',
        name: 'mcp__workcell_client__lookup_order',
        input: { orderId: 'A1' },
      },
    ]);
  });
});
