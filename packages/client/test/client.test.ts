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

describe('messages with content blocks and agent overrides', () => {
  const image = { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } as const;

  it('send() posts content blocks and the agent option as given', async () => {
    const h = await host([sse([started, completed(2)], 'end')]);
    const content = [
      { type: 'text', text: 'what is this?' },
      { type: 'image', source: image },
    ] as const;
    const events = await h.wc.conversations
      .send('c1', [...content], { agent: { model: 'claude-haiku-4-5', maxTurns: 2 } })
      .toArray();
    expect(seqs(events)).toEqual([1, 2]);
    expect(JSON.parse(h.seen[0]?.body ?? '')).toEqual({
      content,
      agent: { model: 'claude-haiku-4-5', maxTurns: 2 },
    });
  });

  it('start() sends the agent option and answers the run id; without it the body is content only', async () => {
    const h = await host([json(202, { runId: 'run_2' })]);
    expect(
      await h.wc.conversation('c1').start('hi', { agent: { appendSystemPrompt: 'Be brief.' } }),
    ).toEqual({ runId: 'run_2', conversationId: 'c1' });
    await h.wc.conversations.start('c1', 'again');
    expect(h.seen.map((s) => JSON.parse(s.body) as unknown)).toEqual([
      { content: 'hi', agent: { appendSystemPrompt: 'Be brief.' } },
      { content: 'again' },
    ]);
  });
});

describe('agent settings, usage and secrets', () => {
  const agentView = {
    workspaceId: 'w 1',
    settings: { model: 'claude-haiku-4-5' },
    effective: { model: 'claude-haiku-4-5', maxTurns: 10 },
  };
  const usage = {
    from: '2025-01-01',
    to: null,
    days: [],
    totals: {
      runs: 0,
      inputTokens: 0,
      outputTokens: 0,
      cacheReadInputTokens: 0,
      cacheCreationInputTokens: 0,
      costUsd: 0,
      runTimeMs: 0,
    },
  };
  const secret = {
    name: 'github_token',
    scope: 'workspace',
    hosts: ['api.github.com'],
    header: 'authorization',
    format: 'Bearer {value}',
    env: 'GITHUB_TOKEN',
    placeholder: 'wcs_placeholder',
    createdAt: '2025-01-01T00:00:00.000Z',
    updatedAt: '2025-01-01T00:00:00.000Z',
  };

  it("agent.get and agent.set read and replace a workspace's settings", async () => {
    const h = await host([json(200, agentView)]);
    expect(await h.wc.agent.get('w 1')).toEqual(agentView);
    expect(await h.wc.agent.set('w 1', { model: 'claude-haiku-4-5' })).toEqual(agentView);
    expect(h.seen.map((s) => [s.method, s.url, s.body])).toEqual([
      ['GET', '/v1/workspaces/w%201/agent', ''],
      ['PUT', '/v1/workspaces/w%201/agent', '{"model":"claude-haiku-4-5"}'],
    ]);
  });

  it('agent.set throws the refusal the host answers (400 model_not_allowed)', async () => {
    const h = await host([
      json(400, { error: { code: 'model_not_allowed', message: 'model x is not allowed' } }),
    ]);
    await expect(h.wc.agent.set('w1', { model: 'x' })).rejects.toMatchObject({
      name: 'WorkcellApiError',
      status: 400,
      code: 'model_not_allowed',
    });
  });

  it('usage for a workspace and for the tenant, with the day range as query parameters', async () => {
    const h = await host([json(200, usage)]);
    expect(await h.wc.usage.workspace('w1', { from: '2025-01-01' })).toEqual(usage);
    await h.wc.usage.tenant({ from: '2025-01-01', to: '2025-01-31' });
    await h.wc.usage.tenant();
    expect(h.seen.map((s) => s.url)).toEqual([
      '/v1/workspaces/w1/usage?from=2025-01-01',
      '/v1/usage?from=2025-01-01&to=2025-01-31',
      '/v1/usage',
    ]);
  });

  it('workspace secrets: put says whether it created, list answers the views, get and delete', async () => {
    const h = await host([
      json(201, secret),
      json(200, secret),
      json(200, { secrets: [secret], nextCursor: null }),
      json(200, secret),
      (_req, res) => {
        res.writeHead(204);
        res.end();
      },
    ]);
    const input = {
      value: 'ghp_real',
      hosts: ['api.github.com'],
      header: 'Authorization',
      format: 'Bearer {value}',
    };
    expect(await h.wc.secrets.workspace.put('w1', 'GITHUB_TOKEN', input)).toEqual({
      secret,
      created: true,
    });
    expect(await h.wc.secrets.workspace.put('w1', 'GITHUB_TOKEN', input)).toEqual({
      secret,
      created: false,
    });
    expect(await h.wc.secrets.workspace.list('w1')).toEqual([secret]);
    expect(await h.wc.secrets.workspace.get('w1', 'github_token')).toEqual(secret);
    await h.wc.secrets.workspace.delete('w1', 'github_token');
    expect(h.seen.map((s) => `${s.method} ${s.url}`)).toEqual([
      'PUT /v1/workspaces/w1/secrets/GITHUB_TOKEN',
      'PUT /v1/workspaces/w1/secrets/GITHUB_TOKEN',
      'GET /v1/workspaces/w1/secrets',
      'GET /v1/workspaces/w1/secrets/github_token',
      'DELETE /v1/workspaces/w1/secrets/github_token',
    ]);
    expect(JSON.parse(h.seen[0]?.body ?? '')).toEqual(input);
  });

  it('tenant secrets use /v1/secrets; a host without a secrets key throws secrets_not_configured', async () => {
    const tenantSecret = { ...secret, scope: 'tenant' };
    const h = await host([
      json(201, tenantSecret),
      json(200, { secrets: [tenantSecret], nextCursor: null }),
      json(200, tenantSecret),
      (_req, res) => {
        res.writeHead(204);
        res.end();
      },
      json(501, { error: { code: 'secrets_not_configured', message: 'no WORKCELL_SECRETS_KEY' } }),
    ]);
    const input = { value: 'v', hosts: ['example.com'] };
    expect(await h.wc.secrets.tenant.put('npm_token', input)).toEqual({
      secret: tenantSecret,
      created: true,
    });
    expect(await h.wc.secrets.tenant.list()).toEqual([tenantSecret]);
    expect(await h.wc.secrets.tenant.get('npm_token')).toEqual(tenantSecret);
    await h.wc.secrets.tenant.delete('npm_token');
    await expect(h.wc.secrets.tenant.list()).rejects.toMatchObject({
      status: 501,
      code: 'secrets_not_configured',
    });
    expect(h.seen.map((s) => `${s.method} ${s.url}`)).toEqual([
      'PUT /v1/secrets/npm_token',
      'GET /v1/secrets',
      'GET /v1/secrets/npm_token',
      'DELETE /v1/secrets/npm_token',
      'GET /v1/secrets',
    ]);
  });
});

describe('lists that grow', () => {
  const ws = (n: number) => ({ id: `ws_${n}`, name: `w${n}`, createdAt: '2026-01-01T00:00:00Z' });

  it('list() follows nextCursor to the last page; page() and iterate() expose the pages', async () => {
    const h = await host([
      json(200, { workspaces: [ws(1), ws(2)], nextCursor: 'c1' }),
      json(200, { workspaces: [ws(3)], nextCursor: null }),
      json(200, { workspaces: [ws(1)], nextCursor: 'c9' }),
      json(200, { workspaces: [ws(1), ws(2)], nextCursor: 'c1' }),
      json(200, { workspaces: [ws(3)], nextCursor: null }),
    ]);
    expect((await h.wc.workspaces.list()).map((w) => w.id)).toEqual(['ws_1', 'ws_2', 'ws_3']);
    expect(await h.wc.workspaces.page({ limit: 1, cursor: 'c0' })).toEqual({
      items: [ws(1)],
      nextCursor: 'c9',
    });
    const seen: string[] = [];
    for await (const w of h.wc.workspaces.iterate({ limit: 2 })) seen.push(w.id);
    expect(seen).toEqual(['ws_1', 'ws_2', 'ws_3']);
    expect(h.seen.map((s) => s.url)).toEqual([
      '/v1/workspaces?limit=1000',
      '/v1/workspaces?limit=1000&cursor=c1',
      '/v1/workspaces?limit=1&cursor=c0',
      '/v1/workspaces?limit=2',
      '/v1/workspaces?limit=2&cursor=c1',
    ]);
  });

  it('pages files with their prefix, and a conversation’s runs', async () => {
    const h = await host([
      json(200, { files: [], nextCursor: null }),
      json(200, { runs: [], nextCursor: null }),
    ]);
    await h.wc.files.page('ws_1', { prefix: 'src/', limit: 5 });
    await h.wc.conversations.runs('conv_1');
    expect(h.seen.map((s) => s.url)).toEqual([
      '/v1/workspaces/ws_1/files?prefix=src%2F&limit=5',
      '/v1/conversations/conv_1/runs?limit=1000',
    ]);
  });
});
