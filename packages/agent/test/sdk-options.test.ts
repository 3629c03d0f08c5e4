import { describe, expect, it } from 'vitest';
import { readAgentSettings } from '../src/sdk-env.js';
import { promptOf, sdkOptions } from '../src/sdk-options.js';

const settings = readAgentSettings({});
const run = { abortController: new AbortController() };

describe('SDK options of a run', () => {
  it('defaults to the claude_code preset, project settings and no permission prompts', () => {
    const o = sdkOptions(settings, { runId: 'r', prompt: 'hi' }, run);
    expect(o.systemPrompt).toEqual({ type: 'preset', preset: 'claude_code', snapshot: false });
    expect(o.settingSources).toEqual(['project', 'local']);
    expect(o.permissionMode).toBe('bypassPermissions');
    expect(o.allowDangerouslySkipPermissions).toBe(true);
    expect(o.model).toBeUndefined();
    expect(o.mcpServers).toBeUndefined();
  });

  it('passes the resolved settings through', () => {
    const o = sdkOptions(
      settings,
      {
        runId: 'r',
        prompt: 'hi',
        options: {
          model: 'us.anthropic.claude-sonnet-4-20250514-v1:0',
          systemPrompt: { type: 'preset', append: 'Be brief.' },
          settingSources: [],
          allowedTools: ['Read'],
          disallowedTools: ['Bash'],
          maxTurns: 3,
          permissionMode: 'dontAsk',
          thinking: { type: 'enabled', budgetTokens: 2048 },
          mcpServers: { docs: { type: 'http', url: 'https://mcp.example.com/mcp' } },
          env: { TEAM: 'blue' },
        },
      },
      run,
    );
    expect(o).toMatchObject({
      model: 'us.anthropic.claude-sonnet-4-20250514-v1:0',
      systemPrompt: { type: 'preset', preset: 'claude_code', append: 'Be brief.' },
      settingSources: [],
      allowedTools: ['Read'],
      disallowedTools: ['Bash'],
      maxTurns: 3,
      permissionMode: 'dontAsk',
      thinking: { type: 'enabled', budgetTokens: 2048 },
      mcpServers: { docs: { type: 'http', url: 'https://mcp.example.com/mcp', alwaysLoad: true } },
      mcpServersDelivery: 'initialize',
    });
    expect(o.allowDangerouslySkipPermissions).toBeUndefined();
    expect(o.env?.TEAM).toBe('blue');
  });

  it('never lets a workspace variable replace the sandbox environment', () => {
    const o = sdkOptions(
      settings,
      {
        runId: 'r',
        prompt: 'hi',
        // The host refuses these names; the agent drops them again should one arrive.
        options: { env: { HTTPS_PROXY: 'http://evil', NODE_OPTIONS: '--require x', OK: '1' } },
      },
      run,
    );
    expect(o.env?.HTTPS_PROXY).toBe('http://127.0.0.1:3128');
    expect(o.env?.NODE_OPTIONS).toBeUndefined();
    expect(o.env?.OK).toBe('1');
  });

  it('uses a custom prompt only when the host resolved one', () => {
    const o = sdkOptions(
      settings,
      {
        runId: 'r',
        prompt: 'hi',
        options: { systemPrompt: { type: 'custom', prompt: 'You are a bot.' } },
      },
      run,
    );
    expect(o.systemPrompt).toEqual({ type: 'custom', prompt: 'You are a bot.', snapshot: false });
  });

  it('streams content blocks as one user message', async () => {
    const blocks = [
      { type: 'text' as const, text: 'look' },
      {
        type: 'image' as const,
        source: { type: 'base64' as const, media_type: 'image/png' as const, data: 'aGVsbG8=' },
      },
    ];
    const prompt = promptOf({ runId: 'r', prompt: blocks });
    expect(typeof prompt).not.toBe('string');
    const messages = [];
    for await (const m of prompt as AsyncIterable<unknown>) messages.push(m);
    expect(messages).toEqual([
      { type: 'user', message: { role: 'user', content: blocks }, parent_tool_use_id: null },
    ]);
    expect(promptOf({ runId: 'r', prompt: 'plain' })).toBe('plain');
  });

  it('hands permission rules to the CLI, asks through the run gate, and offers client tools', () => {
    const gates = { current: () => null };
    const request = {
      runId: 'r',
      prompt: 'hi',
      options: {
        permissions: { allow: ['Bash(npm test:*)'], ask: ['Bash'], deny: ['WebFetch'] },
        clientTools: [
          {
            name: 'lookup_order',
            description: 'Looks up an order.',
            inputSchema: { type: 'object', properties: { orderId: { type: 'string' } } },
          },
        ],
      },
    };
    const o = sdkOptions(settings, request, run, gates);
    expect(o.settings).toEqual({
      permissions: {
        allow: ['Bash(npm test:*)', 'mcp__workcell_client'],
        ask: ['Bash'],
        deny: ['WebFetch'],
      },
    });
    expect(typeof o.canUseTool).toBe('function');
    expect(Object.keys(o.mcpServers ?? {})).toEqual(['workcell_client']);
    // Without ask rules nothing is asked: today's behaviour.
    const plain = sdkOptions(settings, { runId: 'r', prompt: 'hi' }, run, gates);
    expect(plain.canUseTool).toBeUndefined();
    expect(plain.settings).toBeUndefined();
  });

  it('denies a call when no run is in progress to ask about it', async () => {
    const o = sdkOptions(
      settings,
      { runId: 'r', prompt: 'hi', options: { permissions: { ask: ['Bash'] } } },
      run,
      { current: () => null },
    );
    const result = await o.canUseTool?.('Bash', { command: 'ls' }, {
      signal: new AbortController().signal,
      toolUseID: 'toolu_1',
    } as Parameters<NonNullable<typeof o.canUseTool>>[2]);
    expect(result).toMatchObject({ behavior: 'deny' });
  });
});
