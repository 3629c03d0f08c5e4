import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NO_MATCH_TEXT, startMockModel, type MockModel } from '../src/index.js';
import { REMINDER, messagesBody, postMessages, rawRequest, userMessage } from './helpers.js';

let mock: MockModel;

beforeEach(async () => {
  mock = await startMockModel();
});

afterEach(async () => {
  await mock.close();
});

async function reply(body: string): Promise<string> {
  const response = await postMessages(mock.url, body);
  expect(response.status).toBe(200);
  const message = JSON.parse(response.text) as { content: { type: string; text: string }[] };
  return message.content.map((b) => b.text).join('');
}

describe('echo directives', () => {
  it('replies with the model id the request asked for', async () => {
    const text = await reply(
      messagesBody([userMessage('MOCK:{"echo": "model"}')], {
        stream: false,
        model: 'claude-team-1',
      }),
    );
    expect(text).toBe('claude-team-1');
  });

  it('replies with the names of the tools offered, one a line', async () => {
    const text = await reply(
      messagesBody([userMessage('MOCK:{"echo": "tools"}')], { stream: false }),
    );
    expect(text).toBe('Write\nBash');
  });

  it('greps the system prompt and the messages, leaving out the directive itself', async () => {
    const directive = 'MOCK:{"echo": "context", "grep": "MARKER"}';
    const body = messagesBody(
      [
        {
          role: 'user',
          content: [
            {
              type: 'text',
              text: `<system-reminder>\nCLAUDE.md says MARKER-one\n</system-reminder>`,
            },
            { type: 'text', text: `${directive}\nanother MARKER line the user typed` },
          ],
        },
      ],
      {
        stream: false,
        system: [
          { type: 'text', text: 'You are an agent.' },
          { type: 'text', text: 'Team rule: MARKER-two\nno marker here' },
        ],
      },
    );
    expect(await reply(body)).toBe('Team rule: MARKER-two\nCLAUDE.md says MARKER-one');
  });

  it('answers a context echo that matches nothing, and renders images as one line', async () => {
    const png = Buffer.from('not really a png').toString('base64');
    const body = messagesBody(
      [
        {
          role: 'user',
          content: [
            { type: 'text', text: REMINDER },
            { type: 'image', source: { type: 'base64', media_type: 'image/png', data: png } },
            { type: 'text', text: 'MOCK:{"echo": "context", "grep": "[image"}' },
          ],
        },
      ],
      { stream: false },
    );
    expect(await reply(body)).toBe('[image image/png, 16 bytes]');
    const none = messagesBody([userMessage('MOCK:{"echo": "context", "grep": "absent-marker"}')], {
      stream: false,
    });
    expect(await reply(none)).toBe(NO_MATCH_TEXT);
  });

  it('echoes the Bedrock model id from the path, and refuses malformed echo directives', async () => {
    const modelId = 'us.anthropic.claude-sonnet-4-20250514-v1:0';
    const response = await rawRequest(mock.url, {
      method: 'POST',
      path: `/model/${encodeURIComponent(modelId)}/invoke`,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        anthropic_version: 'bedrock-2023-05-31',
        max_tokens: 100,
        messages: [userMessage('MOCK:{"echo": "model"}')],
      }),
    });
    expect(JSON.parse(response.body.toString()).content[0].text).toBe(modelId);
    const bad = await reply(
      messagesBody([userMessage('MOCK:{"echo": "weather"}')], { stream: false }),
    );
    expect(bad).toMatch(/malformed directive on line 1: "echo" is one of/);
  });

  it('records the thinking setting a request carries', async () => {
    await reply(
      messagesBody([userMessage('hi')], {
        stream: false,
        thinking: { type: 'enabled', budget_tokens: 2048 },
      }),
    );
    expect(mock.requests.at(-1)?.thinking).toEqual({ type: 'enabled', budget_tokens: 2048 });
  });
});
