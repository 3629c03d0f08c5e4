import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { SseParser } from '../../../../test/support/sse.js';
import { SseHub, SseWriter, formatSseEvent } from '../../src/api/sse.js';

describe('SSE framing', () => {
  it('writes id, event and data, and the parser reads back the same event', () => {
    const text = formatSseEvent({
      seq: 7,
      event: 'message',
      data: '{"type":"assistant","text":"a: b"}',
    });
    expect(text).toBe('id: 7\nevent: message\ndata: {"type":"assistant","text":"a: b"}\n\n');
    expect(new SseParser().push(text)).toEqual([
      { id: '7', event: 'message', data: '{"type":"assistant","text":"a: b"}' },
    ]);
  });

  it('splits data with line breaks into several data lines that the parser joins again', () => {
    const text = formatSseEvent({ seq: 1, event: 'message', data: 'one\ntwo\r\nthree' });
    expect(text).toBe('id: 1\nevent: message\ndata: one\ndata: two\ndata: three\n\n');
    expect(new SseParser().push(text)[0]?.data).toBe('one\ntwo\nthree');
  });

  it('parses events split across chunks at any byte, and skips comments and retry fields', () => {
    const stream =
      'retry: 2000\n\n: keep-alive\n\n' +
      formatSseEvent({ seq: 1, event: 'run.started', data: '{}' }) +
      formatSseEvent({ seq: 2, event: 'run.completed', data: '{"x":1}' });
    for (let cut = 0; cut <= stream.length; cut += 1) {
      const parser = new SseParser();
      const events = [...parser.push(stream.slice(0, cut)), ...parser.push(stream.slice(cut))];
      expect(events.map((e) => [e.id, e.event, e.data])).toEqual([
        ['1', 'run.started', '{}'],
        ['2', 'run.completed', '{"x":1}'],
      ]);
    }
  });

  it('parses a field without a space after the colon and an event without an event name', () => {
    expect(new SseParser().push('id:3\ndata:x\n\n')).toEqual([
      { id: '3', event: 'message', data: 'x' },
    ]);
  });
});

describe('SseWriter and SseHub on a real HTTP response', () => {
  let server: Server | null = null;
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r) ?? r(undefined));
    server = null;
  });

  async function serve(handler: (res: ServerResponse) => void): Promise<string> {
    server = createServer((_req, res) => handler(res));
    await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  it('sends event-stream headers, a retry hint, keep-alive comments and events, and ends cleanly', async () => {
    const url = await serve((res) => {
      const sse = new SseWriter(res, { keepaliveMs: 20 });
      setTimeout(() => {
        sse.send({ seq: 1, event: 'run.started', data: '{}' });
        sse.end();
      }, 70);
    });
    const res = await fetch(url);
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-cache, no-transform');
    const raw = await res.text();
    expect(raw.startsWith('retry: 2000\n\n')).toBe(true);
    expect(raw).toContain(': keep-alive\n\n');
    expect(raw.endsWith('id: 1\nevent: run.started\ndata: {}\n\n')).toBe(true);
  });

  it('counts open streams, sends their keep-alives, ends them all on endAll, and notices a client that went away', async () => {
    let opened = 0;
    let closed = 0;
    const hub = new SseHub({
      opened: () => (opened += 1),
      closed: () => (closed += 1),
      keepaliveMs: 20,
    });
    const writers: SseWriter[] = [];
    const url = await serve((res) => {
      writers.push(hub.start(res));
    });
    const abort = new AbortController();
    const first = await fetch(url, { signal: abort.signal });
    const second = await fetch(url);
    expect(hub.size).toBe(2);
    expect(opened).toBe(2);

    abort.abort();
    await first.body?.cancel().catch(() => undefined);
    await waitUntil(() => hub.size === 1);
    expect(writers[0]?.isClosed).toBe(true);
    expect(writers[0]?.send({ seq: 1, event: 'message', data: '{}' })).toBe(false);

    await new Promise((r) => setTimeout(r, 60));
    hub.endAll();
    const reader = second.body?.getReader();
    let raw = '';
    for (;;) {
      const chunk = await reader?.read();
      if (!chunk || chunk.done) break;
      raw += new TextDecoder().decode(chunk.value);
    }
    expect(raw).toMatch(/^retry: 2000\n\n(: keep-alive\n\n)+$/);
    expect(hub.size).toBe(0);
    expect(closed).toBe(2);
  });

  it('reports backpressure and resolves drained once the client reads', async () => {
    let writer: SseWriter | null = null;
    const url = await serve((res) => {
      writer = new SseWriter(res);
    });
    const res = await fetch(url);
    await waitUntil(() => writer !== null);
    const w = writer as unknown as SseWriter;
    const big = 'x'.repeat(64 * 1024);
    let seq = 0;
    while (w.send({ seq: ++seq, event: 'message', data: big }))
      if (seq > 10_000) throw new Error('never backpressured');
    const drained = w.drained();
    const reader = res.body?.getReader();
    let done = false;
    void drained.then(() => (done = true));
    while (!done) await reader?.read();
    w.end();
    await reader?.cancel();
    expect(done).toBe(true);
  });
});

async function waitUntil(check: () => boolean, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
