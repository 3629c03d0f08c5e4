import type { RunRequest } from '@workcell/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { SseParser } from '../../../../test/support/sse.js';
import { summary } from '../execute/harness.js';
import { TOKEN_A, TOKEN_B, apiHarness, bearer, type ApiHarness } from './support.js';

let h: ApiHarness;
afterEach(async () => {
  await h?.close();
});

const events = (body: string): { id: string | null; event: string; data: string }[] =>
  new SseParser().push(body);

const policy = {
  defaults: { appendSystemPrompt: 'Operator rule.', maxTurns: 40 },
  modelsAllowed: ['claude-team-a', 'us.anthropic.claude-sonnet-4-20250514-v1:0'],
};

async function putAgent(workspaceId: string, body: unknown, token = TOKEN_A) {
  return h.app.inject({
    method: 'PUT',
    url: `/v1/workspaces/${workspaceId}/agent`,
    headers: bearer(token),
    payload: body as Record<string, unknown>,
  });
}

async function getAgent(workspaceId: string) {
  const res = await h.app.inject({
    url: `/v1/workspaces/${workspaceId}/agent`,
    headers: bearer(TOKEN_A),
  });
  expect(res.statusCode).toBe(200);
  return res.json<{ settings: Record<string, unknown>; effective: Record<string, unknown> }>();
}

/** Posts a message and reads its whole SSE run. */
async function send(conversationId: string, payload: Record<string, unknown>) {
  const res = await h.app.inject({
    method: 'POST',
    url: `/v1/conversations/${conversationId}/messages`,
    headers: { ...bearer(TOKEN_A), accept: 'text/event-stream' },
    payload,
  });
  return { res, events: res.statusCode === 200 ? events(res.body) : [] };
}

/** Records the request each run sends to the agent. */
function captureRequests(): RunRequest[] {
  const seen: RunRequest[] = [];
  h.orchestrator.agent.script = async function* ({ request }) {
    seen.push(request);
    yield { type: 'run.started', runId: request.runId };
    yield { type: 'run.completed', summary: summary() };
  };
  return seen;
}

describe('API: workspace agent settings', () => {
  it('stores the workspace layer and shows it merged over the operator defaults', async () => {
    h = await apiHarness({ agent: policy });
    const { workspaceId } = await h.conversation();
    expect(await getAgent(workspaceId)).toEqual({
      workspaceId,
      settings: {},
      effective: policy.defaults,
    });
    const settings = {
      model: 'claude-team-a',
      appendSystemPrompt: 'Workspace rule.',
      disallowedTools: ['Bash'],
      permissionMode: 'acceptEdits',
      thinking: { type: 'enabled', budgetTokens: 2048 },
      mcpServers: { docs: { type: 'http', url: 'https://mcp.example.com/mcp' } },
      env: { TEAM: 'blue' },
    };
    const put = await putAgent(workspaceId, settings);
    expect(put.statusCode).toBe(200);
    expect(await getAgent(workspaceId)).toEqual({
      workspaceId,
      settings,
      effective: {
        ...settings,
        maxTurns: 40,
        appendSystemPrompt: 'Operator rule.\n\nWorkspace rule.',
      },
    });
    expect((await putAgent(workspaceId, {})).statusCode).toBe(200);
    expect((await getAgent(workspaceId)).settings).toEqual({});
    expect((await putAgent(workspaceId, {}, TOKEN_B)).statusCode).toBe(404);
  });

  it('refuses bad settings with a code each, and changes nothing', async () => {
    h = await apiHarness({ agent: policy });
    const { workspaceId } = await h.conversation();
    await putAgent(workspaceId, { model: 'claude-team-a' });
    const cases: [unknown, string][] = [
      [{ model: 'claude-opus-unlisted' }, 'model_not_allowed'],
      [{ systemPrompt: 'You are a pirate.' }, 'system_prompt_not_allowed'],
      [{ env: { HTTPS_PROXY: 'http://evil:3128' } }, 'env_not_allowed'],
      [{ env: { https_proxy: 'http://evil:3128' } }, 'env_not_allowed'],
      [{ env: { ALL_PROXY: 'socks5://evil' } }, 'env_not_allowed'],
      [{ env: { NO_PROXY: '*' } }, 'env_not_allowed'],
      [{ env: { ANTHROPIC_BASE_URL: 'http://evil' } }, 'env_not_allowed'],
      [{ env: { AWS_SECRET_ACCESS_KEY: 'x' } }, 'env_not_allowed'],
      [{ env: { CLAUDE_CODE_USE_BEDROCK: '1' } }, 'env_not_allowed'],
      [{ env: { NODE_OPTIONS: '--require /tmp/x.js' } }, 'env_not_allowed'],
      [{ env: { LD_PRELOAD: '/tmp/x.so' } }, 'env_not_allowed'],
      [{ env: { 'BAD NAME': '1' } }, 'env_not_allowed'],
      [{ maxTurns: 0 }, 'validation_failed'],
      [{ permissionMode: 'yolo' }, 'validation_failed'],
      [{ unknownSetting: true }, 'validation_failed'],
      [
        { mcpServers: { docs: { type: 'stdio', url: 'https://x.example.com' } } },
        'validation_failed',
      ],
      [{ mcpServers: { docs: { type: 'http', url: 'ftp://x.example.com' } } }, 'validation_failed'],
      [
        { mcpServers: { 'bad name': { type: 'http', url: 'https://x.example.com' } } },
        'validation_failed',
      ],
      [{ thinking: { type: 'enabled', budgetTokens: 10 } }, 'validation_failed'],
      [{ settingSources: ['user'] }, 'validation_failed'],
    ];
    for (const [body, code] of cases) {
      const res = await putAgent(workspaceId, body);
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
      expect(res.json<{ error: { code: string } }>().error.code, JSON.stringify(body)).toBe(code);
    }
    expect((await getAgent(workspaceId)).settings).toEqual({ model: 'claude-team-a' });
  });

  it('accepts agent settings when a workspace is created, and creates nothing when they are refused', async () => {
    h = await apiHarness({ agent: policy });
    const created = await h.app.inject({
      method: 'POST',
      url: '/v1/workspaces',
      headers: bearer(TOKEN_A),
      payload: { name: 'team', agent: { model: 'claude-team-a', env: { TEAM: 'red' } } },
    });
    expect(created.statusCode).toBe(201);
    const { id } = created.json<{ id: string }>();
    expect((await getAgent(id)).settings).toEqual({ model: 'claude-team-a', env: { TEAM: 'red' } });

    const list = async () =>
      (await h.app.inject({ url: '/v1/workspaces', headers: bearer(TOKEN_A) })).json<{
        workspaces: unknown[];
      }>().workspaces.length;
    const before = await list();
    for (const agent of [{ model: 'claude-opus-unlisted' }, { env: { AWS_PROFILE: 'x' } }]) {
      const refused = await h.app.inject({
        method: 'POST',
        url: '/v1/workspaces',
        headers: bearer(TOKEN_A),
        payload: { name: 'nope', agent },
      });
      expect(refused.statusCode).toBe(400);
    }
    expect(await list()).toBe(before);
  });

  it('allows a full system prompt only when the operator does', async () => {
    h = await apiHarness({ agent: { allowCustomSystemPrompt: true } });
    const { workspaceId, conversationId } = await h.conversation();
    expect(
      (await putAgent(workspaceId, { systemPrompt: 'You are a release bot.' })).statusCode,
    ).toBe(200);
    const seen = captureRequests();
    await send(conversationId, { content: 'go', agent: { appendSystemPrompt: 'Be brief.' } });
    expect(seen[0]?.options?.systemPrompt).toEqual({
      type: 'custom',
      prompt: 'You are a release bot.\n\nBe brief.',
    });
  });
});

describe('API: a message with agent overrides and content blocks', () => {
  it('sends the effective settings to the agent and shows them, redacted, in run.started', async () => {
    h = await apiHarness({ agent: policy });
    const { workspaceId, conversationId } = await h.conversation();
    await putAgent(workspaceId, {
      model: 'claude-team-a',
      mcpServers: {
        docs: {
          type: 'http',
          url: 'https://mcp.example.com/mcp',
          headers: { authorization: 'Bearer team-secret' },
        },
      },
    });
    const seen = captureRequests();
    const { res, events: run } = await send(conversationId, {
      content: 'hello',
      agent: {
        model: 'us.anthropic.claude-sonnet-4-20250514-v1:0',
        maxTurns: 3,
        env: { STAGE: 'ci' },
      },
    });
    expect(res.statusCode).toBe(200);
    expect(run.map((e) => e.event)).toEqual(['run.started', 'user.message', 'run.completed']);
    const started = JSON.parse(run[0]?.data ?? '{}') as { agent: Record<string, unknown> };
    expect(started.agent).toEqual({
      model: 'us.anthropic.claude-sonnet-4-20250514-v1:0',
      maxTurns: 3,
      appendSystemPrompt: 'Operator rule.',
      env: { STAGE: 'ci' },
      mcpServers: {
        docs: {
          type: 'http',
          url: 'https://mcp.example.com/mcp',
          headers: { authorization: '[redacted]' },
        },
      },
    });
    expect(res.body).not.toContain('team-secret');
    expect(seen[0]?.options).toMatchObject({
      model: 'us.anthropic.claude-sonnet-4-20250514-v1:0',
      maxTurns: 3,
      systemPrompt: { type: 'preset', append: 'Operator rule.' },
      env: { STAGE: 'ci' },
      mcpServers: { docs: { headers: { authorization: 'Bearer team-secret' } } },
    });
    // The override was for one message: the next one uses the workspace's model again.
    await send(conversationId, { content: 'again' });
    expect(seen[1]?.options?.model).toBe('claude-team-a');
  });

  it('refuses overrides the operator does not allow before a run starts', async () => {
    h = await apiHarness({ agent: policy });
    const { conversationId } = await h.conversation();
    const cases: [unknown, string][] = [
      [{ model: 'claude-opus-unlisted' }, 'model_not_allowed'],
      [{ systemPrompt: 'x' }, 'system_prompt_not_allowed'],
      [{ env: { HTTP_PROXY: 'http://evil' } }, 'env_not_allowed'],
      [{ mcpServers: { x: { type: 'http', url: 'https://x.example.com' } } }, 'validation_failed'],
    ];
    for (const [agent, code] of cases) {
      const { res } = await send(conversationId, { content: 'hi', agent });
      expect(res.statusCode).toBe(400);
      expect(res.json<{ error: { code: string } }>().error.code).toBe(code);
    }
    const conversation = await h.app.inject({
      url: `/v1/conversations/${conversationId}`,
      headers: bearer(TOKEN_A),
    });
    expect(conversation.json<{ runs: unknown[] }>().runs).toEqual([]);
  });

  it('takes content blocks with images, records them as sent, and limits image bytes', async () => {
    h = await apiHarness();
    const { conversationId } = await h.conversation();
    const seen = captureRequests();
    const image = (bytes: number) => ({
      type: 'image',
      source: {
        type: 'base64',
        media_type: 'image/png',
        data: Buffer.alloc(bytes, 7).toString('base64'),
      },
    });
    const content = [{ type: 'text', text: 'what is this?' }, image(1500)];
    const { res, events: run } = await send(conversationId, { content });
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(run[1]?.data ?? '{}')).toEqual({ content });
    expect(seen[0]?.prompt).toEqual(content);

    const tooBig = await send(conversationId, { content: [image(1500), image(1500)] });
    expect(tooBig.res.statusCode).toBe(413);
    const badType = await send(conversationId, {
      content: [
        { type: 'image', source: { type: 'base64', media_type: 'image/tiff', data: 'AAAA' } },
      ],
    });
    expect(badType.res.json<{ error: { code: string } }>().error.code).toBe('validation_failed');
    const badData = await send(conversationId, {
      content: [
        { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'not base64!' } },
      ],
    });
    expect(badData.res.statusCode).toBe(400);
    const empty = await send(conversationId, { content: [] });
    expect(empty.res.statusCode).toBe(400);

    const history = await h.app.inject({
      url: `/v1/conversations/${conversationId}/messages`,
      headers: bearer(TOKEN_A),
    });
    const runs = history.json<{ runs: { events: { event: string; data: unknown }[] }[] }>().runs;
    expect(runs).toHaveLength(1);
    expect(runs[0]?.events[1]).toEqual({ seq: 2, event: 'user.message', data: { content } });
  });
});

describe('API: usage', () => {
  it('sums tokens, cost and run time per day and model, for a workspace and the tenant', async () => {
    h = await apiHarness();
    const first = await h.conversation();
    const second = await h.conversation();
    h.orchestrator.agent.script = async function* ({ request }) {
      yield { type: 'run.started', runId: request.runId };
      yield {
        type: 'run.completed',
        summary: summary({
          durationMs: 1000,
          totalCostUsd: 0.5,
          modelUsage: {
            'claude-team-a': {
              inputTokens: 100,
              outputTokens: 50,
              cacheReadInputTokens: 10,
              cacheCreationInputTokens: 0,
              costUSD: 0.4,
            },
            'claude-haiku': {
              inputTokens: 20,
              outputTokens: 5,
              cacheReadInputTokens: 0,
              cacheCreationInputTokens: 0,
              costUSD: 0.1,
            },
          },
        }),
      };
    };
    await send(first.conversationId, { content: 'one' });
    await send(first.conversationId, { content: 'two' });
    await send(second.conversationId, { content: 'three' });
    h.orchestrator.agent.script = async function* ({ request }) {
      yield { type: 'run.started', runId: request.runId };
      yield { type: 'run.failed', error: { code: 'sdk_error', message: 'boom' } };
    };
    await send(second.conversationId, { content: 'fails' });

    const today = new Date().toISOString().slice(0, 10);
    const ws = await h.app.inject({
      url: `/v1/workspaces/${first.workspaceId}/usage`,
      headers: bearer(TOKEN_A),
    });
    expect(ws.json()).toEqual({
      from: null,
      to: null,
      days: [
        {
          date: today,
          model: 'claude-haiku',
          runs: 0,
          inputTokens: 40,
          outputTokens: 10,
          cacheReadInputTokens: 0,
          cacheCreationInputTokens: 0,
          costUsd: 0.2,
          runTimeMs: 0,
        },
        {
          date: today,
          model: 'claude-team-a',
          runs: 2,
          inputTokens: 200,
          outputTokens: 100,
          cacheReadInputTokens: 20,
          cacheCreationInputTokens: 0,
          costUsd: 0.8,
          runTimeMs: 2000,
        },
      ],
      totals: {
        runs: 2,
        inputTokens: 240,
        outputTokens: 110,
        cacheReadInputTokens: 20,
        cacheCreationInputTokens: 0,
        costUsd: 1,
        runTimeMs: 2000,
      },
    });
    const tenant = await h.app.inject({ url: '/v1/usage', headers: bearer(TOKEN_A) });
    expect(tenant.json<{ totals: { runs: number; runTimeMs: number } }>().totals).toMatchObject({
      runs: 3,
      runTimeMs: 3000,
    });
    const other = await h.app.inject({ url: '/v1/usage', headers: bearer(TOKEN_B) });
    expect(other.json<{ totals: { runs: number } }>().totals.runs).toBe(0);
    const past = await h.app.inject({ url: '/v1/usage?to=2000-01-01', headers: bearer(TOKEN_A) });
    expect(past.json<{ days: unknown[] }>().days).toEqual([]);
    const bad = await h.app.inject({ url: '/v1/usage?from=yesterday', headers: bearer(TOKEN_A) });
    expect(bad.statusCode).toBe(400);
  });
});
