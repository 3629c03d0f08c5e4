import { agentSettingsSchema, runOptionsSchema, type AgentSettings } from '@workcell/protocol';
import { describe, expect, it } from 'vitest';
import { toRunOptions } from '../../src/agent-settings/merge.js';

/**
 * The agent's wire schema (`runOptionsSchema`, what the agent accepts) is written apart from
 * the API's (`agentSettingsSchema`); these keep the two lists agreeing: every setting the API
 * takes reaches the agent under the agent's own limits, and neither list has a key the other
 * lacks.
 */
const accepts = (settings: AgentSettings): { api: boolean; wire: boolean } => {
  const api = agentSettingsSchema.safeParse(settings).success;
  return { api, wire: api && runOptionsSchema.safeParse(toRunOptions(settings)).success };
};

describe('per-message agent options: the API schema and the agent wire schema', () => {
  it('have the same keys (the two system prompt fields are one on the wire)', () => {
    const api = Object.keys(agentSettingsSchema.shape).filter((k) => k !== 'appendSystemPrompt');
    expect(Object.keys(runOptionsSchema.shape).sort()).toEqual(api.sort());
  });

  it('carry every setting at its limit to the agent, and both refuse one past it', () => {
    const at: AgentSettings[] = [
      { maxTurns: 1000 },
      { systemPrompt: 'x'.repeat(100_000) },
      { appendSystemPrompt: 'x'.repeat(100_000) },
      { settingSources: ['project', 'local'] },
      { env: { TEAM: 'x'.repeat(32_768) } },
      {
        mcpServers: Object.fromEntries(
          Array.from({ length: 20 }, (_, i) => [
            `s${i}`,
            { type: 'http' as const, url: `https://mcp${i}.example.com/` },
          ]),
        ),
      },
      { allowedTools: ['Read', 'Bash(npm test:*)'], disallowedTools: ['WebFetch'] },
      { permissionMode: 'acceptEdits', model: 'claude-sonnet-4-5' },
    ];
    for (const settings of at)
      expect(accepts(settings), JSON.stringify(settings).slice(0, 80)).toEqual({
        api: true,
        wire: true,
      });
    const past: AgentSettings[] = [
      { maxTurns: 1001 },
      { systemPrompt: 'x'.repeat(100_001) },
      { env: { TEAM: 'x'.repeat(32_769) } },
      {
        mcpServers: Object.fromEntries(
          Array.from({ length: 21 }, (_, i) => [
            `s${i}`,
            { type: 'http' as const, url: `https://mcp${i}.example.com/` },
          ]),
        ),
      },
    ];
    for (const settings of past) {
      expect(agentSettingsSchema.safeParse(settings).success).toBe(false);
    }
    expect(runOptionsSchema.safeParse({ maxTurns: 1001 }).success).toBe(false);
    expect(runOptionsSchema.safeParse({ env: { TEAM: 'x'.repeat(32_769) } }).success).toBe(false);
    expect(
      runOptionsSchema.safeParse({ systemPrompt: { type: 'custom', prompt: 'x'.repeat(100_001) } })
        .success,
    ).toBe(false);
  });
});
