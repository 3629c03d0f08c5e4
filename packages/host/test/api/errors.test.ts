import { ERROR_CODES, ERROR_STATUS, WorkcellError } from '@workcell/protocol';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { errorResponse, sendError } from '../../src/api/errors.js';

describe('errorResponse: anything thrown -> status and {code, message}', () => {
  it('keeps a WorkcellError code, message and the status from the registry', () => {
    for (const code of ERROR_CODES) {
      const { status, body } = errorResponse(new WorkcellError(code, `m-${code}`));
      expect(status).toBe(ERROR_STATUS[code]);
      expect(body).toEqual({ code, message: `m-${code}` });
    }
  });

  it("maps Fastify's own errors onto our codes", () => {
    expect(
      errorResponse({
        code: 'FST_ERR_CTP_INVALID_JSON_BODY',
        message: 'bad json',
        statusCode: 400,
      }),
    ).toEqual({
      status: 400,
      body: { code: 'invalid_json', message: 'bad json' },
    });
    expect(
      errorResponse({ code: 'FST_ERR_CTP_BODY_TOO_LARGE', message: 'too big', statusCode: 413 })
        .status,
    ).toBe(413);
    expect(
      errorResponse({ code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE', message: 'x', statusCode: 415 }).body
        .code,
    ).toBe('unsupported_media_type');
  });

  it('keeps another 4xx as bad_request and hides anything else behind a generic 500', () => {
    expect(errorResponse({ statusCode: 418, message: 'teapot' })).toEqual({
      status: 418,
      body: { code: 'bad_request', message: 'teapot' },
    });
    expect(errorResponse(new Error('ECONNREFUSED 10.0.0.7:6379 password=hunter2'))).toEqual({
      status: 500,
      body: { code: 'internal', message: 'internal error' },
    });
  });

  it('sends the error body and a Retry-After header for rate_limited', async () => {
    const app = Fastify();
    app.get('/limited', async (_req, reply) =>
      sendError(reply, new WorkcellError('rate_limited', 'slow down', { retryAfterSeconds: 17 })),
    );
    app.get('/busy', async (_req, reply) =>
      sendError(reply, new WorkcellError('workspace_busy', 'busy')),
    );
    const limited = await app.inject('/limited');
    expect(limited.statusCode).toBe(429);
    expect(limited.headers['retry-after']).toBe('17');
    expect(limited.json()).toEqual({ error: { code: 'rate_limited', message: 'slow down' } });
    const busy = await app.inject('/busy');
    expect(busy.statusCode).toBe(409);
    expect(busy.headers['retry-after']).toBeUndefined();
    await app.close();
  });

  it('answers host_at_capacity 503 with Retry-After, so a load balancer tries another host', async () => {
    const app = Fastify();
    app.get('/full', async (_req, reply) =>
      sendError(reply, new WorkcellError('host_at_capacity', 'full', { retryAfterSeconds: 5 })),
    );
    const full = await app.inject('/full');
    expect(full.statusCode).toBe(503);
    expect(full.headers['retry-after']).toBe('5');
    expect(full.json()).toEqual({ error: { code: 'host_at_capacity', message: 'full' } });
    await app.close();
  });
});
