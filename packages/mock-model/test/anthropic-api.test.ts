import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startMockModel, type MockModel } from '../src/index.js';
import {
  REMINDER,
  captureLogs,
  messagesBody,
  parseSse,
  postMessages,
  rawRequest,
  streamedText,
  userMessage,
  type Message,
  type SseEvent,
} from './helpers.js';

let mock: MockModel;

beforeEach(async () => {
  mock = await startMockModel();
});

afterEach(async () => {
  await mock.close();
});

async function streamTurn(messages: Message[]): Promise<SseEvent[]> {
  const response = await postMessages(mock.url, messagesBody(messages));
  expect(response.status).toBe(200);
  return parseSse(response.text);
}

async function jsonTurn(messages: Message[]): Promise<Record<string, unknown>> {
  const response = await postMessages(mock.url, messagesBody(messages, { stream: false }));
  expect(response.status).toBe(200);
  return JSON.parse(response.text) as Record<string, unknown>;
}

function stopReason(events: SseEvent[]): unknown {
  const delta = events.find((e) => e.event === 'message_delta');
  return (delta?.data.delta as { stop_reason?: unknown } | undefined)?.stop_reason;
}

function toolUse(events: SseEvent[]): { id: string; name: string; input: unknown } {
  const start = events.find(
    (e) =>
      e.event === 'content_block_start' &&
      (e.data.content_block as { type: string }).type === 'tool_use',
  );
  if (!start) throw new Error(`no tool_use block in ${JSON.stringify(events)}`);
  const index = start.data.index;
  const json = events
    .filter((e) => e.event === 'content_block_delta' && e.data.index === index)
    .map((e) => (e.data.delta as { type: string; partial_json: string }).partial_json)
    .join('');
  const block = start.data.content_block as { id: string; name: string };
  return { id: block.id, name: block.name, input: JSON.parse(json) as unknown };
}

/** The history the SDK sends after a tool call: the assistant's tool_use and the user's result. */
function toolRound(id: string, name: string, input: unknown, result: string): Message[] {
  return [
    { role: 'assistant', content: [{ type: 'tool_use', id, name, input }] },
    {
      role: 'user',
      content: [
        { type: 'tool_result', tool_use_id: id, content: result },
        { type: 'text', text: '<system-reminder>\nThe file changed.\n</system-reminder>' },
      ],
    },
  ];
}

describe('Anthropic Messages API', () => {
  it('streams a well-formed SSE message that ends the turn', async () => {
    const response = await postMessages(mock.url, messagesBody([userMessage('hello there')]));
    expect(response.status).toBe(200);
    expect(response.contentType).toMatch(/^text\/event-stream/);
    const events = parseSse(response.text);
    for (const event of events) expect(event.data.type).toBe(event.event);
    expect(events.map((e) => e.event)).toEqual([
      'message_start',
      'ping',
      'content_block_start',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    const start = events[0]?.data.message as {
      role: string;
      model: string;
      usage: { input_tokens: number };
    };
    expect(start.role).toBe('assistant');
    expect(start.model).toBe('claude-test-model');
    expect(start.usage.input_tokens).toBeGreaterThan(0);
    expect(streamedText(events)).toBe('You said: hello there');
    expect(stopReason(events)).toBe('end_turn');
    const delta = events.find((e) => e.event === 'message_delta');
    expect((delta?.data.usage as { output_tokens: number }).output_tokens).toBeGreaterThan(0);
  });

  it('answers a non-streaming request with one JSON message', async () => {
    const message = await jsonTurn([userMessage('MOCK:{"text": "plain answer"}')]);
    expect(message).toMatchObject({
      type: 'message',
      role: 'assistant',
      model: 'claude-test-model',
      content: [{ type: 'text', text: 'plain answer' }],
      stop_reason: 'end_turn',
    });
    expect((message.usage as { input_tokens: number }).input_tokens).toBeGreaterThan(0);
    expect((message.usage as { output_tokens: number }).output_tokens).toBeGreaterThan(0);
  });

  it('records every x-api-key value it receives, and none when none is sent', async () => {
    await postMessages(mock.url, messagesBody([userMessage('one')]), {
      headers: { 'x-api-key': 'host-key' },
    });
    await rawRequest(mock.url, {
      method: 'POST',
      path: '/v1/messages',
      headers: { 'content-type': 'application/json', 'x-api-key': ['first', 'second'] },
      body: messagesBody([userMessage('two')], { stream: false }),
    });
    await rawRequest(mock.url, {
      method: 'POST',
      path: '/v1/messages',
      headers: { 'content-type': 'application/json' },
      body: messagesBody([userMessage('three')], { stream: false }),
    });
    expect(mock.requests.map((r) => r.apiKeys)).toEqual([['host-key'], ['first', 'second'], []]);
    expect(mock.requests[0]).toMatchObject({
      api: 'anthropic',
      method: 'POST',
      path: '/v1/messages?beta=true',
      stream: true,
      model: 'claude-test-model',
      userText: 'one',
      signatureValid: null,
    });
    expect(mock.requests[1]?.stream).toBe(false);
  });

  it('answers count_tokens with a plausible count', async () => {
    const small = await postMessages(mock.url, messagesBody([userMessage('hi')]), {
      path: '/v1/messages/count_tokens?beta=true',
    });
    const large = await postMessages(mock.url, messagesBody([userMessage('word '.repeat(2000))]), {
      path: '/v1/messages/count_tokens?beta=true',
    });
    expect(small.status).toBe(200);
    const smallCount = (JSON.parse(small.text) as { input_tokens: number }).input_tokens;
    const largeCount = (JSON.parse(large.text) as { input_tokens: number }).input_tokens;
    expect(smallCount).toBeGreaterThan(0);
    expect(largeCount).toBeGreaterThan(smallCount + 1000);
  });

  it('answers unknown paths and bad bodies with Anthropic error JSON', async () => {
    const missing = await fetch(`${mock.url}/v1/models`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({
      type: 'error',
      error: { type: 'not_found_error' },
    });
    const bad = await postMessages(mock.url, '{not json');
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.text)).toMatchObject({
      type: 'error',
      error: { type: 'invalid_request_error' },
    });
  });
});

describe('directives', () => {
  it('reads the last user message, skipping system reminders and the roles the SDK appends', async () => {
    const events = await streamTurn([
      userMessage('MOCK:{"text": "an earlier answer"}'),
      { role: 'assistant', content: [{ type: 'text', text: 'an earlier answer' }] },
      userMessage('MOCK:{"text": "from the last prompt"}'),
      {
        role: 'system',
        content: [{ type: 'text', text: 'MOCK:{"text": "from the environment"}' }],
      },
    ]);
    expect(streamedText(events)).toBe('from the last prompt');
  });

  it('skips a reminder inside the same text as the prompt, and a string content', async () => {
    const inline = await jsonTurn([
      { role: 'user', content: `${REMINDER}\nMOCK:{"text": "inline"}` },
      { role: 'user', content: [{ type: 'text', text: REMINDER }] },
    ]);
    expect(inline.content).toEqual([{ type: 'text', text: 'inline' }]);
    const plain = await jsonTurn([{ role: 'user', content: `${REMINDER}\nno directive here` }]);
    expect(plain.content).toEqual([{ type: 'text', text: 'You said: no directive here' }]);
  });

  it('runs tool directives one per turn, then the text, counting the tool rounds in the request', async () => {
    const prompt = [
      'Please do three things.',
      'MOCK:{"tool": "Write", "input": {"file_path": "notes/a.txt", "content": "hello"}}',
      'MOCK:{"tool": "Bash", "input": {"command": "cat /workspace/notes/a.txt"}}',
      'MOCK:{"text": "all done"}',
    ].join('\n');
    const history: Message[] = [userMessage(prompt)];

    const first = await streamTurn(history);
    expect(stopReason(first)).toBe('tool_use');
    const write = toolUse(first);
    expect(write.name).toBe('Write');
    expect(write.input).toEqual({ file_path: '/workspace/notes/a.txt', content: 'hello' });
    expect(write.id).toMatch(/^toolu_/);
    history.push(...toolRound(write.id, write.name, write.input, 'File created'));
    history.push({ role: 'system', content: 'environment details' });

    const second = await streamTurn(history);
    expect(stopReason(second)).toBe('tool_use');
    const bash = toolUse(second);
    expect(bash).toMatchObject({ name: 'Bash', input: { command: 'cat /workspace/notes/a.txt' } });
    history.push(...toolRound(bash.id, bash.name, bash.input, 'hello'));

    const third = await streamTurn(history);
    expect(stopReason(third)).toBe('end_turn');
    expect(streamedText(third)).toBe('all done');
    expect(third.some((e) => e.event === 'content_block_start' && e.data.index !== 0)).toBe(false);
  });

  it('answers "done" after the last tool call, and puts text before a tool in the same turn', async () => {
    const prompt =
      'MOCK:{"text": "writing now"}\nMOCK:{"tool": "Write", "input": {"file_path": "/abs/x.txt", "content": ""}}';
    const first = await jsonTurn([userMessage(prompt)]);
    expect(first.stop_reason).toBe('tool_use');
    const content = first.content as {
      type: string;
      text?: string;
      id?: string;
      input?: unknown;
    }[];
    expect(content.map((block) => block.type)).toEqual(['text', 'tool_use']);
    expect(content[0]?.text).toBe('writing now');
    expect(content[1]?.input).toEqual({ file_path: '/abs/x.txt', content: '' });

    const second = await jsonTurn([
      userMessage(prompt),
      ...toolRound(content[1]?.id ?? '', 'Write', content[1]?.input, 'ok'),
    ]);
    expect(second).toMatchObject({
      stop_reason: 'end_turn',
      content: [{ type: 'text', text: 'done' }],
    });
  });

  it('starts counting again at a new prompt', async () => {
    const earlier: Message[] = [
      userMessage('MOCK:{"tool": "Bash", "input": {"command": "true"}}'),
      ...toolRound('toolu_1', 'Bash', { command: 'true' }, ''),
      { role: 'assistant', content: [{ type: 'text', text: 'done' }] },
    ];
    const next = await jsonTurn([
      ...earlier,
      userMessage('MOCK:{"tool": "Bash", "input": {"command": "ls"}}'),
    ]);
    expect(next.stop_reason).toBe('tool_use');
    expect(next.content).toMatchObject([
      { type: 'tool_use', name: 'Bash', input: { command: 'ls' } },
    ]);
  });

  it('answers text only to a request that offers no tools', async () => {
    const response = await postMessages(
      mock.url,
      messagesBody(
        [userMessage('MOCK:{"tool": "Write", "input": {}}\nMOCK:{"text": "title text"}')],
        {
          tools: undefined,
          stream: false,
        },
      ),
    );
    const message = JSON.parse(response.text) as Record<string, unknown>;
    expect(message).toMatchObject({
      stop_reason: 'end_turn',
      content: [{ type: 'text', text: 'title text' }],
    });
  });

  it('reports how many user prompts came before the last one', async () => {
    const events = await streamTurn([
      userMessage('first prompt'),
      { role: 'assistant', content: [{ type: 'text', text: 'You said: first prompt' }] },
      userMessage('MOCK:{"tool": "Bash", "input": {"command": "true"}}'),
      ...toolRound('toolu_2', 'Bash', { command: 'true' }, ''),
      { role: 'assistant', content: [{ type: 'text', text: 'done' }] },
      { role: 'user', content: [{ type: 'text', text: REMINDER }] },
      userMessage('MOCK:{"report": "turns"}'),
    ]);
    expect(streamedText(events)).toBe('prior_user_turns=2');
    const fresh = await jsonTurn([userMessage('MOCK:{"report": "turns"}')]);
    expect(fresh.content).toEqual([{ type: 'text', text: 'prior_user_turns=0' }]);
  });

  it('streams many chunks as separate deltas, and joins them when not streaming', async () => {
    const prompt = 'MOCK:{"chunks": 1000, "chunk_text": "ab"}';
    const events = await streamTurn([userMessage(prompt)]);
    const deltas = events.filter((e) => e.event === 'content_block_delta');
    expect(deltas).toHaveLength(1000);
    expect(streamedText(events)).toBe('ab'.repeat(1000));
    expect(events.at(-1)?.event).toBe('message_stop');
    const message = await jsonTurn([userMessage(prompt)]);
    expect(message.content).toEqual([{ type: 'text', text: 'ab'.repeat(1000) }]);
  });

  it('answers a malformed directive with a text saying so', async () => {
    const badJson = await jsonTurn([userMessage('ok\nMOCK:{"text": ')]);
    expect(badJson.stop_reason).toBe('end_turn');
    expect((badJson.content as { text: string }[])[0]?.text).toMatch(
      /malformed directive on line 2/,
    );
    const unknown = await jsonTurn([userMessage('MOCK:{"dance": true}')]);
    expect((unknown.content as { text: string }[])[0]?.text).toMatch(
      /malformed directive on line 1/,
    );
    const events = await streamTurn([userMessage('MOCK:[1, 2]')]);
    expect(streamedText(events)).toMatch(/malformed directive/);
    expect(stopReason(events)).toBe('end_turn');
  });
});

describe('sleep directive', () => {
  it('waits before replying', async () => {
    const startedAt = Date.now();
    const message = await jsonTurn([userMessage('MOCK:{"sleep_ms": 300}\nMOCK:{"text": "awake"}')]);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(290);
    expect(message.content).toEqual([{ type: 'text', text: 'awake' }]);
  });

  it('stops waiting when the client disconnects', async () => {
    const { logger, lines } = captureLogs();
    const logged = await startMockModel({ logger });
    try {
      const controller = new AbortController();
      const response = await fetch(`${logged.url}/v1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: messagesBody([userMessage('MOCK:{"sleep_ms": 5000}\nMOCK:{"text": "too late"}')]),
        signal: controller.signal,
      });
      const reader = response.body?.getReader();
      const first = await reader?.read();
      expect(new TextDecoder().decode(first?.value)).toContain('event: message_start');
      const abortedAt = Date.now();
      controller.abort();
      await expect
        .poll(() => lines.some((line) => line.includes('client left')), { timeout: 2000 })
        .toBe(true);
      expect(Date.now() - abortedAt).toBeLessThan(2000);
    } finally {
      await logged.close();
    }
  });

  it('stops waiting when the client of a non-streaming request disconnects', async () => {
    const { logger, lines } = captureLogs();
    const logged = await startMockModel({ logger });
    try {
      const pending = fetch(`${logged.url}/v1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: messagesBody([userMessage('MOCK:{"sleep_ms": 5000}')], { stream: false }),
        signal: AbortSignal.timeout(200),
      });
      await expect(pending).rejects.toThrow();
      const abortedAt = Date.now();
      await expect
        .poll(() => lines.some((line) => line.includes('client left')), { timeout: 2000 })
        .toBe(true);
      expect(Date.now() - abortedAt).toBeLessThan(2000);
      expect(logged.requests).toHaveLength(1);
    } finally {
      await logged.close();
    }
  });
});
