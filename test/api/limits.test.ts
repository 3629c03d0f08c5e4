import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataOf, startTestHost, type TestHost } from '../support/host.js';

describe('limits: run timeout, prompt size, requests per tenant', () => {
  let host: TestHost;

  beforeAll(async () => {
    host = await startTestHost({
      anthropicApiKey: 'sk-ant-test-limits-0123456789',
      runTimeoutMs: 2_000,
      maxPromptBytes: 4_096,
    });
  });

  afterAll(async () => {
    await host?.close();
  });

  it('ends a run that outlives WORKCELL_RUN_TIMEOUT_MS with run.failed run_timeout, and the workspace takes the next message', async () => {
    const { conversationId } = await host.conversation();
    const started = Date.now();
    const events = await host.send(conversationId, 'MOCK:{"sleep_ms": 30000}');
    const tookMs = Date.now() - started;
    expect(events.at(-1)?.event).toBe('run.failed');
    expect(dataOf(events, 'run.failed')[0]).toEqual({
      code: 'run_timeout',
      message: expect.stringContaining('2000 ms'),
    });
    expect(tookMs).toBeGreaterThanOrEqual(2_000);
    expect(tookMs).toBeLessThan(8_000);
    const conv = await host.wc.conversations.get(conversationId);
    expect(conv.runs[0]).toMatchObject({ status: 'failed', error: { code: 'run_timeout' } });

    const next = await host.send(conversationId, 'MOCK:{"text": "quick"}');
    expect(dataOf(next, 'run.completed')[0], JSON.stringify(next.at(-1))).toMatchObject({
      result: 'quick',
    });
  });

  it('answers 413 payload_too_large to a message over the prompt limit, before any run starts', async () => {
    const { conversationId } = await host.conversation();
    const res = await host.api(`/v1/conversations/${conversationId}/messages`, {
      method: 'POST',
      body: JSON.stringify({ content: 'x'.repeat(4_097) }),
    });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe(
      'payload_too_large',
    );
    expect((await host.wc.conversations.get(conversationId)).runs).toEqual([]);
  });
});

describe('limits: requests per tenant per minute', () => {
  let host: TestHost;

  beforeAll(async () => {
    host = await startTestHost({ rateLimitPerMinute: 5 });
  });

  afterAll(async () => {
    await host?.close();
  });

  it('answers 429 rate_limited with Retry-After once a tenant is over its limit', async () => {
    for (let i = 0; i < 5; i += 1) expect((await host.api('/v1/workspaces')).status).toBe(200);
    const limited = await host.api('/v1/workspaces');
    expect(limited.status).toBe(429);
    expect(((await limited.json()) as { error: { code: string } }).error.code).toBe('rate_limited');
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect((await host.api('/health')).status).toBe(200);
  });
});
