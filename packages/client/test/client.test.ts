import { afterEach, describe, expect, it } from 'vitest';
import { WorkcellApiError, WorkcellClient, type RunEvent } from '../src/index.js';
import { fakeHost, frame, json, sse, type Handler } from './fake-host.js';

const started = frame(1, 'run.started', {
  runId: 'run_1',
  conversationId: 'c1',
  workspaceId: 'w1',
});
const msg = (seq: number): string => frame(seq, 'message', { type: 'assistant', n: seq });
const completed = (seq: number): string =>
  frame(seq, 'run.completed', {
    sessionId: 's',
    subtype: 'success',
    isError: false,
    interrupted: false,
    durationMs: 1,
    numTurns: 1,
    totalCostUsd: null,
    usage: null,
    result: 'ok',
  });

let closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers) await close();
  closers = [];
});

async function host(handlers: Handler[]) {
  const h = await fakeHost(handlers);
  closers.push(h.close);
  const wc = new WorkcellClient({
    baseUrl: h.url,
    token: 'tok',
    reconnect: { delayMs: 5, maxDelayMs: 20 },
  });
  return { ...h, wc };
}

const seqs = (events: RunEvent[]): number[] => events.map((e) => e.seq);

describe('send()', () => {
  it('resumes with Last-Event-ID after each cut, delivering every event once and in order', async () => {
    const h = await host([
      sse([started, msg(2), msg(3)], 'cut'),
      // The host replays from the resume point; an event it sends twice is delivered once.
      sse([msg(3), msg(4), msg(5)], 'cut'),
      sse([msg(6), completed(7)], 'hang'),
    ]);
    const events = await h.wc.conversations.send('c1', 'hello').toArray();
    expect(seqs(events)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(events.at(-1)?.event).toBe('run.completed');
    expect(h.seen.map((s) => `${s.method} ${s.url} ${s.headers['last-event-id'] ?? ''}`)).toEqual([
      'POST /v1/conversations/c1/messages ',
      'GET /v1/conversations/c1/runs/run_1/events 3',
      'GET /v1/conversations/c1/runs/run_1/events 5',
    ]);
    expect(h.seen[0]?.headers.authorization).toBe('Bearer tok');
    expect(h.seen[0]?.headers.accept).toBe('text/event-stream');
    expect(JSON.parse(h.seen[0]?.body ?? '')).toEqual({ content: 'hello' });
  });

  it('ends after the terminal event and closes the connection, even when the host keeps it open', async () => {
    const h = await host([sse([started, msg(2), completed(3), msg(4)], 'hang')]);
    const events = await h.wc.conversations.send('c1', 'x').toArray();
    expect(seqs(events)).toEqual([1, 2, 3]);
  });

  it('resumes by the run id header when the connection drops before the first event', async () => {
    const h = await host([sse([], 'cut', 'run_9'), sse([started, completed(2)], 'end')]);
    const events = await h.wc.conversations.send('c1', 'x').toArray();
    expect(seqs(events)).toEqual([1, 2]);
    expect(h.seen[1]?.url).toBe('/v1/conversations/c1/runs/run_9/events');
    expect(h.seen[1]?.headers['last-event-id']).toBe('0');
  });

  it('throws the API error (409 workspace_busy) from the loop and never posts twice', async () => {
    const h = await host([
      json(409, { error: { code: 'workspace_busy', message: 'a run is in progress' } }),
    ]);
    const err = await h.wc.conversations
      .send('c1', 'x')
      .toArray()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkcellApiError);
    expect(err).toMatchObject({
      status: 409,
      code: 'workspace_busy',
      message: 'a run is in progress',
    });
    expect(h.seen).toHaveLength(1);
  });

  it('reconnects when a connection goes idle past idleTimeoutMs', async () => {
    const h = await host([sse([started, msg(2)], 'hang'), sse([completed(3)], 'end')]);
    const events = await h.wc.conversations
      .send('c1', 'x', { reconnect: { idleTimeoutMs: 100 } })
      .toArray();
    expect(seqs(events)).toEqual([1, 2, 3]);
    expect(h.seen[1]?.headers['last-event-id']).toBe('2');
  });

  it('gives up after the configured reconnections with a dependency_unavailable error', async () => {
    const h = await host([sse([started], 'cut'), sse([], 'cut')]);
    const err = await h.wc.conversations
      .send('c1', 'x', { reconnect: { attempts: 2 } })
      .toArray()
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 0, code: 'dependency_unavailable' });
    expect(h.seen).toHaveLength(3);
  });

  it('stops at a resumption answered with a final error (404)', async () => {
    const h = await host([
      sse([started], 'cut'),
      json(404, { error: { code: 'not_found', message: 'run not found' } }),
    ]);
    const err = await h.wc.conversations
      .send('c1', 'x')
      .toArray()
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 404, code: 'not_found' });
  });

  it('stops reading when the signal aborts, throwing its reason', async () => {
    const h = await host([sse([started, msg(2)], 'hang')]);
    const abort = new AbortController();
    const got: number[] = [];
    const err = await (async () => {
      for await (const e of h.wc.conversations.send('c1', 'x', { signal: abort.signal })) {
        got.push(e.seq);
        if (e.seq === 2) abort.abort(new Error('stop'));
      }
    })().catch((e: unknown) => e);
    expect(got).toEqual([1, 2]);
    expect((err as Error).message).toBe('stop');
  });
});

describe('events()', () => {
  it('starts after `after`, and a 204 (run ended, nothing after) ends it empty', async () => {
    const h = await host([
      sse([msg(5), completed(6)], 'end'),
      (_req, res) => {
        res.writeHead(204);
        res.end();
      },
    ]);
    const events = await h.wc.conversation('c1').events('run_1', { after: 4 }).toArray();
    expect(seqs(events)).toEqual([5, 6]);
    expect(h.seen[0]?.headers['last-event-id']).toBe('4');
    expect(await h.wc.conversations.events('c1', 'run_1', { after: 6 }).toArray()).toEqual([]);
  });

  it('retries its first connection when the host answers 503', async () => {
    const h = await host([
      json(503, { error: { code: 'shutting_down', message: 'bye' } }),
      sse([started, completed(2)], 'end'),
    ]);
    expect(seqs(await h.wc.conversations.events('c1', 'run_1').toArray())).toEqual([1, 2]);
  });
});

describe('errors and routes', () => {
  it('one error class: the body names the code; a non-JSON answer gets one from the status', async () => {
    const h = await host([
      json(401, { error: { code: 'unauthorized', message: 'a valid bearer token is required' } }),
      (_req, res) => {
        res.writeHead(502, { 'content-type': 'text/html' });
        res.end('<h1>Bad gateway</h1>');
      },
    ]);
    await expect(h.wc.workspaces.list()).rejects.toMatchObject({
      name: 'WorkcellApiError',
      status: 401,
      code: 'unauthorized',
    });
    await expect(h.wc.workspaces.list()).rejects.toMatchObject({ status: 502, code: 'internal' });
  });

  it('an unreachable host is status 0, code dependency_unavailable', async () => {
    const h = await host([json(200, {})]);
    await h.close();
    await expect(h.wc.health()).rejects.toMatchObject({
      status: 0,
      code: 'dependency_unavailable',
    });
  });

  it('encodes file paths per segment, streams uploads and downloads', async () => {
    const h = await host([
      json(201, { path: 'a b/c#d.txt', size: 5, sha256: 'x' }),
      (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '5', etag: '"x"' });
        res.end('hello');
      },
    ]);
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new TextEncoder().encode('hel'));
        c.enqueue(new TextEncoder().encode('lo'));
        c.close();
      },
    });
    await h.wc.files.upload('w1', 'a b/c#d.txt', body);
    expect(h.seen[0]).toMatchObject({
      method: 'PUT',
      url: '/v1/workspaces/w1/files/a%20b/c%23d.txt',
      body: 'hello',
    });
    const download = await h.wc.files.download('w1', 'a b/c#d.txt', { range: { start: 0 } });
    expect(download).toMatchObject({ size: 5, contentType: 'text/plain', etag: '"x"' });
    expect(await new Response(download.body).text()).toBe('hello');
    expect(h.seen[1]?.headers.range).toBe('bytes=0-');
  });

  it('health answers the report when the host is degraded (503)', async () => {
    const h = await host([json(503, { status: 'degraded' })]);
    expect(await h.wc.health()).toEqual({ status: 'degraded' });
  });
});
