import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ContentBlock } from '@workcell/client';
import { readSse } from '../support/sse.js';
import { dataOf, startTestHost, type TestHost } from '../support/host.js';
import { putAgent, resultOf, toolResults, workspaceWith } from './support.js';

/**
 * Each agent setting takes effect end to end: set through the API, resolved by the host, sent
 * to the agent in a real container, handed to the real SDK, and seen arriving at the (mock)
 * model through the credential proxy.
 */
describe('agent settings take effect (Anthropic)', () => {
  let host: TestHost;

  beforeAll(async () => {
    host = await startTestHost({
      model: 'claude-team-a',
      modelsAllowed: 'claude-team-a,claude-team-b,claude-sonnet-4-20250514',
      agentDefaults: JSON.stringify({ appendSystemPrompt: 'Operator says OPS-MARKER-1.' }),
    });
  });

  afterAll(async () => {
    await host?.close();
  });

  it("uses the operator's model, the workspace's, and one message's override", async () => {
    const plain = await workspaceWith(host);
    expect(resultOf(await host.send(plain.conversationId, 'MOCK:{"echo": "model"}'))).toBe(
      'claude-team-a',
    );

    const { workspaceId, conversationId } = await workspaceWith(host, { model: 'claude-team-b' });
    const events = await host.send(conversationId, 'MOCK:{"echo": "model"}');
    expect(resultOf(events)).toBe('claude-team-b');
    expect(dataOf<{ agent: { model: string } }>(events, 'run.started')[0]?.agent.model).toBe(
      'claude-team-b',
    );
    const once = await host.send(conversationId, 'MOCK:{"echo": "model"}', {
      model: 'claude-team-a',
    });
    expect(resultOf(once)).toBe('claude-team-a');
    expect(resultOf(await host.send(conversationId, 'MOCK:{"echo": "model"}'))).toBe(
      'claude-team-b',
    );

    // A model outside WORKCELL_MODELS_ALLOWED: 400, and nothing changes or runs.
    expect((await putAgent(host, workspaceId, { model: 'claude-unlisted' })).body).toMatchObject({
      error: { code: 'model_not_allowed' },
    });
    const refused = await host.api(`/v1/conversations/${conversationId}/messages`, {
      method: 'POST',
      body: JSON.stringify({ content: 'hi', agent: { model: 'claude-unlisted' } }),
    });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe(
      'model_not_allowed',
    );
    const view = await host.wc.agent.get(workspaceId);
    expect(view.settings).toEqual({ model: 'claude-team-b' });
    const conversation = await host.wc.conversations.get(conversationId);
    expect(conversation.runs).toHaveLength(3);
  });

  it("keeps Claude Code's prompt and appends the operator's, the workspace's and CLAUDE.md's instructions", async () => {
    const { workspaceId, conversationId } = await workspaceWith(host, {
      appendSystemPrompt: 'Workspace says WS-MARKER-2.',
    });
    await host.api(`/v1/workspaces/${workspaceId}/files/CLAUDE.md`, {
      method: 'PUT',
      body: 'Project rule: say MD-MARKER-3 when greeting.\n',
    });
    const text = resultOf(
      await host.send(conversationId, 'MOCK:{"echo": "context", "grep": "MARKER-"}'),
    );
    expect(text).toContain('Operator says OPS-MARKER-1.');
    expect(text).toContain('Workspace says WS-MARKER-2.');
    expect(text).toContain('Project rule: say MD-MARKER-3 when greeting.');
    // The claude_code preset (the minimal prompt has no "# Harness" section).
    expect(
      resultOf(await host.send(conversationId, 'MOCK:{"echo": "context", "grep": "# Harness"}')),
    ).toBe('# Harness');

    // Without project settings CLAUDE.md stays out (of a new conversation: a resumed one
    // carries it in its history); the appended prompts stay in.
    const fresh = await host.wc.conversations.create(workspaceId);
    const without = resultOf(
      await host.send(fresh.id, 'MOCK:{"echo": "context", "grep": "MARKER-"}', {
        settingSources: [],
      }),
    );
    expect(without).not.toContain('MD-MARKER-3');
    expect(without).toContain('WS-MARKER-2');

    // A full replacement needs the operator's permission.
    const replaced = await putAgent(host, workspaceId, { systemPrompt: 'You are a pirate.' });
    expect(replaced.status).toBe(400);
    expect(replaced.body).toMatchObject({ error: { code: 'system_prompt_not_allowed' } });
  });

  it('offers the tools the workspace allows, runs only allowed ones in dontAsk mode, and stops at maxTurns', async () => {
    const { workspaceId, conversationId } = await workspaceWith(host, {
      disallowedTools: ['Bash', 'WebFetch'],
    });
    const tools = resultOf(await host.send(conversationId, 'MOCK:{"echo": "tools"}')).split('\n');
    expect(tools).toContain('Write');
    expect(tools).toContain('Read');
    expect(tools).not.toContain('Bash');
    expect(tools).not.toContain('WebFetch');

    await putAgent(host, workspaceId, { permissionMode: 'dontAsk', allowedTools: ['Write'] });
    const events = await host.send(
      conversationId,
      [
        'MOCK:{"tool": "Bash", "input": {"command": "echo no > /workspace/bash.txt"}}',
        'MOCK:{"tool": "Write", "input": {"file_path": "write.txt", "content": "yes\\n"}}',
      ].join('\n'),
    );
    expect(toolResults(events).map((r) => r.isError)).toEqual([true, false]);
    expect((await host.api(`/v1/workspaces/${workspaceId}/files/write.txt`)).status).toBe(200);
    expect((await host.api(`/v1/workspaces/${workspaceId}/files/bash.txt`)).status).toBe(404);

    const limited = await host.send(
      conversationId,
      [
        'MOCK:{"tool": "Write", "input": {"file_path": "a.txt", "content": "a"}}',
        'MOCK:{"tool": "Write", "input": {"file_path": "b.txt", "content": "b"}}',
      ].join('\n'),
      { maxTurns: 1 },
    );
    expect(dataOf<{ subtype: string }>(limited, 'run.completed')[0]?.subtype).toBe(
      'error_max_turns',
    );
    expect((await host.api(`/v1/workspaces/${workspaceId}/files/b.txt`)).status).toBe(404);
  });

  it('sends the thinking budget and gives tools the workspace environment, refusing dangerous names', async () => {
    // A model with budgeted thinking (the CLI sends adaptive thinking to models it does not know).
    const { workspaceId, conversationId } = await workspaceWith(host, {
      model: 'claude-sonnet-4-20250514',
      thinking: { type: 'enabled', budgetTokens: 2048 },
      env: { TEAM_COLOR: 'teal' },
    });
    const before = host.mock.requests.length;
    const events = await host.send(
      conversationId,
      'MOCK:{"tool": "Bash", "input": {"command": "printf %s \\"$TEAM_COLOR\\" > /workspace/color.txt"}}',
    );
    expect(events.at(-1)?.event).toBe('run.completed');
    expect(await (await host.api(`/v1/workspaces/${workspaceId}/files/color.txt`)).text()).toBe(
      'teal',
    );
    const thinking = host.mock.requests
      .slice(before)
      .filter((r) => r.path.startsWith('/v1/messages?'))
      .map((r) => r.thinking);
    expect(thinking).toContainEqual(
      expect.objectContaining({ type: 'enabled', budget_tokens: 2048 }),
    );

    for (const env of [
      { HTTPS_PROXY: 'http://attacker.test:3128' },
      { ANTHROPIC_BASE_URL: 'http://attacker.test' },
      { AWS_CONTAINER_CREDENTIALS_FULL_URI: 'http://169.254.170.2/x' },
      { NODE_OPTIONS: '--require /workspace/x.js' },
      { LD_PRELOAD: '/workspace/x.so' },
      { CLAUDE_CODE_USE_BEDROCK: '1' },
    ]) {
      const res = await putAgent(host, workspaceId, { env });
      expect(res.status, JSON.stringify(env)).toBe(400);
      expect(res.body).toMatchObject({ error: { code: 'env_not_allowed' } });
    }
    const view = await host.wc.agent.get(workspaceId);
    expect(view.settings.env).toEqual({ TEAM_COLOR: 'teal' });
  });

  it('records the user message after run.started, text or blocks with an image, in the stream and the history', async () => {
    const { conversationId } = await workspaceWith(host);
    // A 1x1 PNG: the CLI reads an image's header before it sends it on.
    const png =
      'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';
    const content: ContentBlock[] = [
      { type: 'text', text: 'MOCK:{"echo": "context", "grep": "[image"}' },
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: png } },
    ];
    const events = await host.send(conversationId, content);
    expect(events.slice(0, 2).map((e) => e.event)).toEqual(['run.started', 'user.message']);
    expect(events[1]?.seq).toBe(2);
    expect(events[1]?.data).toEqual({ content });
    expect(resultOf(events)).toMatch(/^\[image image\/png, \d+ bytes\]$/);
    await host.send(conversationId, 'plain text');

    const history = await host.wc.conversations.history(conversationId);
    expect(history.runs.map((r) => r.events[1])).toEqual([
      { seq: 2, event: 'user.message', data: { content } },
      { seq: 2, event: 'user.message', data: { content: 'plain text' } },
    ]);

    const tooBig = await host.api(`/v1/conversations/${conversationId}/messages`, {
      method: 'POST',
      body: JSON.stringify({
        content: [
          {
            type: 'image',
            source: {
              type: 'base64',
              media_type: 'image/png',
              data: Buffer.alloc(5 * 1024 * 1024 + 3).toString('base64'),
            },
          },
        ],
      }),
    });
    expect(tooBig.status).toBe(413);
  });

  it('applies a change made while a run is in progress from the next message', async () => {
    const { workspaceId, conversationId } = await workspaceWith(host, { model: 'claude-team-a' });
    const res = await host.api(`/v1/conversations/${conversationId}/messages`, {
      method: 'POST',
      headers: { accept: 'text/event-stream' },
      body: JSON.stringify({ content: 'MOCK:{"sleep_ms": 1500}\nMOCK:{"echo": "model"}' }),
    });
    const running = readSse(res);
    expect((await putAgent(host, workspaceId, { model: 'claude-team-b' })).status).toBe(200);
    expect(resultOf(await running)).toBe('claude-team-a');
    expect(resultOf(await host.send(conversationId, 'MOCK:{"echo": "model"}'))).toBe(
      'claude-team-b',
    );
  });
});
