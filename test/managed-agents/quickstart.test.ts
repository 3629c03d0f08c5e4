import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHost, type TestHost } from '../support/host.js';
import { sdkFor, streamUntil, userText } from './support.js';

/**
 * Anthropic's Managed Agents quickstart, unchanged but for the client's two constructor
 * arguments, against a real host (Docker, the agent, the proxy, the mock model).
 */
describe('Managed Agents quickstart through the official SDK', () => {
  let host: TestHost;

  beforeAll(async () => {
    host = await startTestHost({ managedAgentsUnrestricted: 'true', egressAllow: 'example.org' });
  });
  afterAll(async () => {
    await host?.close();
  });

  it('creates an environment, an agent and a session, and streams a turn with a tool', async () => {
    const client = sdkFor(host, host.token);
    const environment = await client.beta.environments.create({
      name: 'quickstart-env',
      config: { type: 'cloud', networking: { type: 'unrestricted' } },
    });
    expect(environment.id).toMatch(/^env_/);
    const agent = await client.beta.agents.create({
      name: 'Coding Assistant',
      model: 'claude-sonnet-4-6',
      system: 'You are a helpful coding assistant.',
      tools: [{ type: 'agent_toolset_20260401' }],
    });
    expect(agent).toMatchObject({ type: 'agent', version: 1, name: 'Coding Assistant' });
    expect(agent.id).toMatch(/^agent_/);
    const session = await client.beta.sessions.create({
      agent: agent.id,
      environment_id: environment.id,
      title: 'Quickstart session',
    });
    expect(session).toMatchObject({
      type: 'session',
      status: 'idle',
      environment_id: environment.id,
    });
    expect(session.id).toMatch(/^sesn_/);

    const prompt = [
      'MOCK:{"text": "Writing the file."}',
      'MOCK:{"tool": "bash", "input": {"command": "echo hello-from-bash > /workspace/fib.txt && cat /workspace/fib.txt"}}',
    ].join('\n');
    const events = await streamUntil(client, session.id, () =>
      client.beta.sessions.events.send(session.id, { events: [userText(prompt)] }),
    );
    const types = events.map((e) => e.type);
    expect(types[0]).toBe('user.message');
    expect(types).toContain('session.status_running');
    expect(types.at(-1)).toBe('session.status_idle');

    const toolUse = events.find((e) => e.type === 'agent.tool_use');
    expect(toolUse).toMatchObject({ name: 'bash', evaluated_permission: 'allow' });
    const result = events.find((e) => e.type === 'agent.tool_result');
    expect(result).toMatchObject({ tool_use_id: toolUse?.id, is_error: false });
    expect(JSON.stringify(result)).toContain('hello-from-bash');
    const messages = events.filter((e) => e.type === 'agent.message');
    expect(JSON.stringify(messages)).toContain('Writing the file.');
    const ends = events.filter((e) => e.type === 'span.model_request_end');
    expect(ends.length).toBeGreaterThanOrEqual(2);
    for (const end of ends)
      if (end.type === 'span.model_request_end')
        expect(end.model_usage.output_tokens).toBeGreaterThan(0);
    const idle = events.at(-1);
    if (idle?.type === 'session.status_idle') expect(idle.stop_reason.type).toBe('end_turn');

    const after = await client.beta.sessions.retrieve(session.id);
    expect(after.status).toBe('idle');
    expect(after.usage.output_tokens).toBeGreaterThan(0);

    // The history holds the same events, in the same order, with the same ids.
    const history = [];
    for await (const e of client.beta.sessions.events.list(session.id)) history.push(e);
    expect(history.map((e) => e.id)).toEqual(events.map((e) => ('id' in e ? e.id : null)));

    // A follow-up turn in the same session sees the first.
    const second = await streamUntil(client, session.id, () =>
      client.beta.sessions.events.send(session.id, {
        events: [userText('MOCK:{"tool": "read", "input": {"file_path": "/workspace/fib.txt"}}')],
      }),
    );
    const read = second.find((e) => e.type === 'agent.tool_use');
    expect(read).toMatchObject({ name: 'read', input: { file_path: '/workspace/fib.txt' } });
    expect(JSON.stringify(second.find((e) => e.type === 'agent.tool_result'))).toContain(
      'hello-from-bash',
    );
  });
});
