import { WorkcellError } from '@workcell/protocol';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { anthropicError } from '../../src/api/managed-agents/errors.js';
import { retryAfterSeconds } from '../../src/api/errors.js';
import { DependencyWatch } from '../../src/dependencies/watch.js';
import { systemClock } from '../../src/time/clock.js';
import { apiHarness, bearer, TOKEN_A, type ApiHarness } from './support.js';

const logger = pino({ level: 'silent' });

describe('new work while a store is down', () => {
  let h: ApiHarness | null = null;
  afterEach(async () => {
    await h?.close();
    h = null;
  });

  it('answers 503 dependency_unavailable with Retry-After to new work, and serves reads', async () => {
    let redisUp = false;
    const watch = new DependencyWatch({
      probes: {
        stateStore: async () => {
          if (!redisUp) throw new Error('Redis at redis://x is unavailable (PING)');
        },
        objectStore: async () => undefined,
      },
      describe: { stateStore: 'the state store (Redis)', objectStore: 'the object store' },
      clock: systemClock,
      logger,
    });
    await watch.probe();
    h = await apiHarness({ dependencies: watch });
    const { conversationId } = await h.conversation();

    const created = await h.app.inject({
      method: 'POST',
      url: '/v1/workspaces',
      headers: bearer(TOKEN_A),
      payload: { name: 'refused' },
    });
    expect(created.statusCode).toBe(503);
    expect(created.headers['retry-after']).toBe('5');
    expect(created.json()).toMatchObject({
      error: { code: 'dependency_unavailable', message: expect.stringMatching(/Redis/) },
    });
    const message = await h.app.inject({
      method: 'POST',
      url: `/v1/conversations/${conversationId}/messages`,
      headers: bearer(TOKEN_A),
      payload: { content: 'hello' },
    });
    expect(message.statusCode).toBe(503);
    expect(message.headers['retry-after']).toBe('5');

    const listed = await h.app.inject({
      method: 'GET',
      url: '/v1/workspaces',
      headers: bearer(TOKEN_A),
    });
    expect(listed.statusCode).toBe(200);

    redisUp = true;
    await watch.probe();
    const again = await h.app.inject({
      method: 'POST',
      url: '/v1/workspaces',
      headers: bearer(TOKEN_A),
      payload: { name: 'taken' },
    });
    expect(again.statusCode).toBe(201);
  });

  it('gives dependency_unavailable a Retry-After, in the Managed Agents shape too (529)', () => {
    const err = new WorkcellError('dependency_unavailable', 'object store get k: ECONNREFUSED');
    expect(retryAfterSeconds(err)).toBe(5);
    expect(
      retryAfterSeconds(new WorkcellError('dependency_unavailable', 'x', { retryAfterSeconds: 9 })),
    ).toBe(9);
    expect(retryAfterSeconds(new WorkcellError('internal', 'x'))).toBeNull();
    expect(anthropicError(err)).toMatchObject({ status: 529, type: 'overloaded_error' });
  });
});
