import Anthropic from '@anthropic-ai/sdk';
import type { BetaManagedAgentsStreamSessionEvents } from '@anthropic-ai/sdk/resources/beta/sessions/events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHost, type TestHost } from '../support/host.js';
import { sdkFor, userText } from './support.js';

const IMAGE = process.env.WORKCELL_IMAGE ?? 'workcell/workspace:0.1.0';
type Event = BetaManagedAgentsStreamSessionEvents;

/**
 * `always_ask` tools wait for `user.tool_confirmation`, and custom tools for
 * `user.custom_tool_result`, through the engine's approvals and client tools.
 */
describe('Managed Agents tool confirmations and custom tools through the official SDK', () => {
  let host: TestHost;
  let client: Anthropic;
  let sessionId: string;

  beforeAll(async () => {
    host = await startTestHost({ image: IMAGE });
    client = sdkFor(host, host.token);
    const agent = await client.beta.agents.create({
      name: 'careful',
      model: 'claude-sonnet-4-6',
      tools: [
        {
          type: 'agent_toolset_20260401',
          configs: [{ name: 'bash', permission_policy: { type: 'always_ask' } }],
        },
        {
          type: 'custom',
          name: 'lookup_order',
          description: 'Looks up an order',
          input_schema: {
            type: 'object',
            properties: { id: { type: 'string' } },
            required: ['id'],
          },
        },
      ],
    });
    const environment = await client.beta.environments.create({
      name: 'closed',
      config: { type: 'cloud', networking: { type: 'limited', allowed_hosts: [] } },
    });
    sessionId = (
      await client.beta.sessions.create({ agent: agent.id, environment_id: environment.id })
    ).id;
  });
  afterAll(async () => {
    await host?.close();
  });

  /** Sends `text`, answers each `requires_action` with `answer`, and collects the turn. */
  async function turn(
    text: string,
    answer: (
      waitingOn: Event,
    ) => Parameters<typeof client.beta.sessions.events.send>[1]['events'][number],
  ): Promise<Event[]> {
    const stream = await client.beta.sessions.events.stream(sessionId);
    await client.beta.sessions.events.send(sessionId, { events: [userText(text)] });
    const seen: Event[] = [];
    for await (const event of stream) {
      seen.push(event);
      if (event.type !== 'session.status_idle') continue;
      if (event.stop_reason.type !== 'requires_action') break;
      expect((await client.beta.sessions.retrieve(sessionId)).status).toBe('idle');
      const ids = event.stop_reason.event_ids;
      const waitingOn = seen.find((e) => 'id' in e && ids.includes(e.id));
      expect(waitingOn).toBeDefined();
      await client.beta.sessions.events.send(sessionId, { events: [answer(waitingOn as Event)] });
    }
    return seen;
  }

  it('an allowed call runs after the confirmation', async () => {
    const events = await turn(
      'MOCK:{"tool": "bash", "input": {"command": "echo allowed-ran"}}',
      (use) => ({
        type: 'user.tool_confirmation',
        tool_use_id: 'id' in use ? use.id : '',
        result: 'allow',
      }),
    );
    const use = events.find((e) => e.type === 'agent.tool_use');
    expect(use).toMatchObject({ name: 'bash', evaluated_permission: 'ask' });
    const types = events.map((e) => e.type);
    expect(types.indexOf('user.tool_confirmation')).toBeGreaterThan(
      types.indexOf('agent.tool_use'),
    );
    expect(JSON.stringify(events.find((e) => e.type === 'agent.tool_result'))).toContain(
      'allowed-ran',
    );
    const last = events.at(-1);
    expect(last?.type === 'session.status_idle' && last.stop_reason.type).toBe('end_turn');
  });

  it('a denied call does not run, and the model is told why', async () => {
    const events = await turn(
      'MOCK:{"tool": "bash", "input": {"command": "echo denied-ran"}}',
      (use) => ({
        type: 'user.tool_confirmation',
        tool_use_id: 'id' in use ? use.id : '',
        result: 'deny',
        deny_message: 'not on a Friday',
      }),
    );
    const result = JSON.stringify(events.find((e) => e.type === 'agent.tool_result'));
    expect(result).toContain('not on a Friday');
    expect(result).not.toContain('denied-ran\\n');
    const last = events.at(-1);
    expect(last?.type === 'session.status_idle' && last.stop_reason.type).toBe('end_turn');
  });

  it("a custom tool's call waits for the client's result", async () => {
    const events = await turn('MOCK:{"tool": "lookup_order", "input": {"id": "A1"}}', (use) => ({
      type: 'user.custom_tool_result',
      custom_tool_use_id: 'id' in use ? use.id : '',
      content: [{ type: 'text', text: 'order A1 shipped' }],
    }));
    const use = events.find((e) => e.type === 'agent.custom_tool_use');
    expect(use).toMatchObject({ name: 'lookup_order', input: { id: 'A1' } });
    expect(events.map((e) => e.type)).toContain('user.custom_tool_result');
    const last = events.at(-1);
    expect(last?.type === 'session.status_idle' && last.stop_reason.type).toBe('end_turn');

    const history = [];
    for await (const e of client.beta.sessions.events.list(sessionId)) history.push(e.type);
    expect(history.filter((t) => t === 'user.custom_tool_result')).toHaveLength(1);
    expect(history.filter((t) => t === 'user.tool_confirmation')).toHaveLength(2);
  });

  it('refuses a confirmation for a tool use that waits for nothing', async () => {
    await expect(
      client.beta.sessions.events.send(sessionId, {
        events: [{ type: 'user.tool_confirmation', tool_use_id: 'sevt_nothing', result: 'allow' }],
      }),
    ).rejects.toBeInstanceOf(Anthropic.BadRequestError);
  });
});
