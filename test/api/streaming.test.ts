import { EventSource } from 'eventsource';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataOf, startTestHost, type TestHost } from '../support/host.js';
import { readSse, type SseEvent } from '../support/sse.js';
import { isTerminal, sseEvents } from './sse-stream.js';

/**
 * The streaming contract with the real SDK in a real container: resumable SSE, 202 mode,
 * interrupt, one run per workspace.
 */
describe('streaming API', () => {
  let host: TestHost;

  beforeAll(async () => {
    host = await startTestHost({ anthropicApiKey: 'sk-ant-test-streaming-0123456789' });
  });

  afterAll(async () => {
    await host?.close();
  });

  const post = (
    conversationId: string,
    content: string,
    accept?: string,
    signal?: AbortSignal,
  ): Promise<Response> =>
    host.api(`/v1/conversations/${conversationId}/messages`, {
      method: 'POST',
      headers: accept ? { accept } : {},
      body: JSON.stringify({ content }),
      ...(signal ? { signal } : {}),
    });

  const runIdOf = (events: SseEvent[]): string =>
    dataOf<{ runId: string }>(events, 'run.started')[0]?.runId ?? '';

  it('resumes after Last-Event-ID: 3 with every later event exactly once, in order, no gaps', async () => {
    const { conversationId } = await host.conversation();
    const abort = new AbortController();
    const res = await post(
      conversationId,
      'MOCK:{"sleep_ms": 1500}\nMOCK:{"chunks": 20, "chunk_text": "x"}',
      'text/event-stream',
      abort.signal,
    );
    expect(res.status).toBe(200);
    // The client drops the connection after event 3.
    const first = await readSse(res, { stopAfter: (e) => e.id === '3', abort });
    expect(first.map((e) => e.id)).toEqual(['1', '2', '3']);
    const runId = runIdOf(first);

    const resumed = await host.api(`/v1/conversations/${conversationId}/runs/${runId}/events`, {
      headers: { accept: 'text/event-stream', 'last-event-id': '3' },
    });
    expect(resumed.status).toBe(200);
    const rest = await readSse(resumed);
    const seqs = rest.map((e) => Number(e.id));
    expect(seqs[0]).toBe(4);
    expect(seqs).toEqual(seqs.map((_, i) => i + 4));
    expect(rest.at(-1)?.event).toBe('run.completed');
    const deltas = dataOf<{ type: string; event?: { delta?: { type: string; text?: string } } }>(
      rest,
      'message',
    ).filter((m) => m.type === 'stream_event' && m.event?.delta?.type === 'text_delta');
    expect(deltas.length).toBeGreaterThanOrEqual(20);

    // The whole run, replayed from the start, is the dropped part followed by the resumed part.
    const whole = await readSse(
      await host.api(`/v1/conversations/${conversationId}/runs/${runId}/events`),
    );
    expect(whole).toEqual([...first, ...rest]);
  });

  it('works with an EventSource: ?access_token=, reconnects with Last-Event-ID after a drop, stops at the 204 after the end', async () => {
    const { conversationId } = await host.conversation();
    const accepted = await post(
      conversationId,
      'MOCK:{"sleep_ms": 1200}\nMOCK:{"chunks": 5, "chunk_text": "y"}',
    );
    const { runId } = (await accepted.json()) as { runId: string };
    const source = new EventSource(
      `${host.url}/v1/conversations/${conversationId}/runs/${runId}/events?access_token=${host.token}`,
    );
    const seen: { id: string; type: string }[] = [];
    let opens = 0;
    let dropped = false;
    const closed = new Promise<void>((resolve) => {
      const record = (e: MessageEvent): void => {
        seen.push({ id: e.lastEventId, type: e.type });
        // Once the SDK has started, every connection to the host is cut (a network drop).
        if (!dropped && e.type === 'message') {
          dropped = true;
          host.workcell.api.server.closeAllConnections();
        }
      };
      for (const type of ['run.started', 'user.message', 'message', 'run.completed', 'run.failed'])
        source.addEventListener(type, record);
      source.addEventListener('open', () => (opens += 1));
      source.addEventListener('error', () => {
        if (source.readyState === EventSource.CLOSED) resolve();
      });
    });
    try {
      await closed;
    } finally {
      source.close();
    }
    expect(dropped).toBe(true);
    // Opened on the first connection and on the reconnect after the drop; the connection after
    // the end was answered 204, so it never opened and the source closed for good.
    expect(opens).toBe(2);
    expect(seen.map((e) => Number(e.id))).toEqual(seen.map((_, i) => i + 1));
    expect(seen.at(-1)?.type).toBe('run.completed');
    expect(host.logs.some((l) => l.includes('access_token=[redacted]'))).toBe(true);
    for (const line of host.logs) expect(line.includes(host.token)).toBe(false);
  });

  it('202 mode, then GET events from the start, gives the same events as the streaming POST', async () => {
    const prompt = 'MOCK:{"text": "the same answer both times"}';
    const a = await host.conversation();
    const streamed = await readSse(await post(a.conversationId, prompt, 'text/event-stream'));

    const b = await host.conversation();
    const accepted = await post(b.conversationId, prompt);
    expect(accepted.status).toBe(202);
    const { runId } = (await accepted.json()) as { runId: string };
    expect(runId).toMatch(/^run_/);
    const followed = await readSse(
      await host.api(`/v1/conversations/${b.conversationId}/runs/${runId}/events`),
    );

    expect(followed.map((e) => e.event)).toEqual(streamed.map((e) => e.event));
    expect(followed.map((e) => e.id)).toEqual(streamed.map((e) => e.id));
    expect(followed.map((e) => shape(JSON.parse(e.data)))).toEqual(
      streamed.map((e) => shape(JSON.parse(e.data))),
    );
    const text = (events: SseEvent[]): string[] =>
      dataOf<{ type: string; message?: { content?: { type: string; text?: string }[] } }>(
        events,
        'message',
      )
        .filter((m) => m.type === 'assistant')
        .flatMap((m) => (m.message?.content ?? []).map((c) => c.text ?? ''));
    expect(text(followed)).toEqual(['the same answer both times']);
    expect(text(streamed)).toEqual(text(followed));
    expect(dataOf(followed, 'run.completed')[0]).toMatchObject({
      runId,
      subtype: 'success',
      interrupted: false,
    });
  });

  it('an interrupt during a long model call ends the run within 2 s, marked interrupted, and the next message works', async () => {
    const { conversationId } = await host.conversation();
    const res = await post(conversationId, 'MOCK:{"sleep_ms": 30000}', 'text/event-stream');
    const events: SseEvent[] = [];
    let runId = '';
    let asked = 0;
    let ended = 0;
    for await (const e of sseEvents(res)) {
      events.push(e);
      if (e.event === 'run.started') runId = (JSON.parse(e.data) as { runId: string }).runId;
      // The SDK's init message has arrived: it is now waiting on the model.
      if (e.event === 'message' && asked === 0) {
        asked = Date.now();
        const interrupt = await host.api(
          `/v1/conversations/${conversationId}/runs/${runId}/interrupt`,
          { method: 'POST' },
        );
        expect(interrupt.status).toBe(202);
      }
      if (isTerminal(e)) {
        ended = Date.now();
        break;
      }
    }
    expect(events.at(-1)?.event).toBe('run.completed');
    expect(dataOf(events, 'run.completed')[0]).toMatchObject({ runId, interrupted: true });
    expect(ended - asked).toBeLessThan(2_000);

    const again = await host.api(`/v1/conversations/${conversationId}/runs/${runId}/interrupt`, {
      method: 'POST',
    });
    expect(again.status).toBe(409);
    const next = await host.send(conversationId, 'MOCK:{"text": "still here"}');
    expect(next.at(-1)?.event).toBe('run.completed');
    expect(dataOf(next, 'run.completed')[0]).toMatchObject({
      interrupted: false,
      result: 'still here',
    });
  });

  it('answers 409 workspace_busy to a second message while a run is in progress, and the first run is unharmed', async () => {
    const { workspaceId, conversationId } = await host.conversation();
    const other = await host.wc.conversations.create(workspaceId);
    const first = await post(conversationId, 'MOCK:{"sleep_ms": 1500}\nMOCK:{"text": "first"}');
    expect(first.status).toBe(202);
    const { runId } = (await first.json()) as { runId: string };

    for (const target of [conversationId, other.id]) {
      const busy = await post(target, 'MOCK:{"text": "second"}', 'text/event-stream');
      expect(busy.status).toBe(409);
      expect(await busy.json()).toEqual({
        error: { code: 'workspace_busy', message: expect.any(String) },
      });
    }
    const deleting = await host.api(`/v1/workspaces/${workspaceId}`, { method: 'DELETE' });
    expect(deleting.status).toBe(409);

    const events = await readSse(
      await host.api(`/v1/conversations/${conversationId}/runs/${runId}/events`),
    );
    expect(dataOf(events, 'run.completed')[0]).toMatchObject({ result: 'first' });
  });
});

/**
 * The structure of a value with the parts that differ per run (ids, times, sizes) reduced to
 * their type; `type`, `subtype`, `event` and `role` values are kept, as they name what a
 * message is.
 */
function shape(value: unknown, key = ''): unknown {
  if (Array.isArray(value)) return value.map((v) => shape(v));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, v]) => [k, shape(v, k)]),
    );
  }
  if (
    typeof value === 'string' &&
    ['type', 'subtype', 'event', 'role', 'stop_reason'].includes(key)
  )
    return value;
  return value === null ? null : typeof value;
}
