import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { SseParser } from '../../../../test/support/sse.js';
import { ManualClock } from '../../src/time/clock.js';
import { TOKEN_A, TOKEN_B, apiHarness, bearer, type ApiHarness } from './support.js';

let h: ApiHarness;
afterEach(async () => {
  await h?.close();
});

interface Issued {
  ticket: string;
  expiresAt: string;
}

async function issue(
  workspaceId: string,
  purpose: 'terminal' | 'events',
  token = TOKEN_A,
): Promise<Issued> {
  const res = await h.app.inject({
    method: 'POST',
    url: '/v1/tickets',
    headers: bearer(token),
    payload: { workspaceId, purpose },
  });
  expect(res.statusCode).toBe(201);
  expect(res.headers['cache-control']).toBe('no-store');
  return res.json<Issued>();
}

/** A finished run of tenant A, whose events a ticket may open. */
async function finishedRun(): Promise<{ workspaceId: string; eventsUrl: string }> {
  const { workspaceId, conversationId } = await h.conversation();
  const post = await h.app.inject({
    method: 'POST',
    url: `/v1/conversations/${conversationId}/messages`,
    headers: bearer(TOKEN_A),
    payload: { content: 'hi' },
  });
  expect(post.statusCode).toBe(202);
  const { runId } = post.json<{ runId: string }>();
  await h.execute.drain();
  return { workspaceId, eventsUrl: `/v1/conversations/${conversationId}/runs/${runId}/events` };
}

const terminalUrl = (workspaceId: string): string => `/v1/workspaces/${workspaceId}/terminal`;

function expectRefused(res: { statusCode: number; json: () => unknown }): void {
  expect(res.statusCode).toBe(401);
  expect(res.json()).toMatchObject({ error: { code: 'ticket_invalid' } });
}

describe('API: browser tickets', () => {
  it('issues an opaque, url-safe ticket that lasts the configured time', async () => {
    const clock = new ManualClock(1_700_000_000_000);
    h = await apiHarness({ clock, ticketTtlMs: 30_000 });
    const { workspaceId } = await h.conversation();
    const a = await issue(workspaceId, 'terminal');
    const b = await issue(workspaceId, 'terminal');
    expect(a.ticket).toMatch(/^wct_[A-Za-z0-9_-]{43}$/);
    expect(a.ticket).not.toBe(b.ticket);
    expect(a.expiresAt).toBe(new Date(1_700_000_030_000).toISOString());
  });

  it('opens the event stream once: the second use of a ticket is refused', async () => {
    h = await apiHarness();
    const { workspaceId, eventsUrl } = await finishedRun();
    const { ticket } = await issue(workspaceId, 'events');

    const first = await h.app.inject(`${eventsUrl}?ticket=${ticket}`);
    expect(first.statusCode).toBe(200);
    expect(first.headers['content-type']).toContain('text/event-stream');
    expect(new SseParser().push(first.body).at(-1)?.event).toBe('run.completed');

    expectRefused(await h.app.inject(`${eventsUrl}?ticket=${ticket}`));
  });

  it('refuses a ticket past its expiry on the host clock', async () => {
    const clock = new ManualClock(1_700_000_000_000);
    h = await apiHarness({ clock, ticketTtlMs: 10_000 });
    const { workspaceId, eventsUrl } = await finishedRun();
    const late = await issue(workspaceId, 'events');
    const onTime = await issue(workspaceId, 'events');
    clock.advance(9_999);
    expect((await h.app.inject(`${eventsUrl}?ticket=${onTime.ticket}`)).statusCode).toBe(200);
    clock.advance(1);
    expectRefused(await h.app.inject(`${eventsUrl}?ticket=${late.ticket}`));
  });

  it('refuses a ticket for another purpose, and uses it up in doing so', async () => {
    h = await apiHarness();
    const { workspaceId, eventsUrl } = await finishedRun();
    const forEvents = await issue(workspaceId, 'events');
    expectRefused(await h.app.inject(`${terminalUrl(workspaceId)}?ticket=${forEvents.ticket}`));
    expectRefused(await h.app.inject(`${eventsUrl}?ticket=${forEvents.ticket}`));

    const forTerminal = await issue(workspaceId, 'terminal');
    expectRefused(await h.app.inject(`${eventsUrl}?ticket=${forTerminal.ticket}`));
  });

  it("refuses a ticket for another workspace, the tenant's own included", async () => {
    h = await apiHarness();
    const { workspaceId, eventsUrl } = await finishedRun();
    const other = await h.catalog.createWorkspace('tenant-a', 'other');
    const forOther = await issue(other.id, 'events');
    expectRefused(await h.app.inject(`${eventsUrl}?ticket=${forOther.ticket}`));

    const forOtherTerminal = await issue(other.id, 'terminal');
    expectRefused(
      await h.app.inject(`${terminalUrl(workspaceId)}?ticket=${forOtherTerminal.ticket}`),
    );
    // The right ticket passes authentication: inject cannot upgrade, so the route answers 400.
    const right = await issue(workspaceId, 'terminal');
    const passed = await h.app.inject(`${terminalUrl(workspaceId)}?ticket=${right.ticket}`);
    expect(passed.json()).toMatchObject({ error: { code: 'bad_request' } });
  });

  it("keeps tenants apart: no ticket for another tenant's workspace, none usable on it", async () => {
    h = await apiHarness();
    const { workspaceId, eventsUrl } = await finishedRun();
    const res = await h.app.inject({
      method: 'POST',
      url: '/v1/tickets',
      headers: bearer(TOKEN_B),
      payload: { workspaceId, purpose: 'events' },
    });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ error: { code: 'not_found' } });

    const bWorkspace = await h.catalog.createWorkspace('tenant-b', 'b');
    const fromB = await issue(bWorkspace.id, 'events', TOKEN_B);
    // Tenant B's ticket names B's workspace: on A's run it is refused (A's conversation is not
    // even visible to B).
    const used = await h.app.inject(`${eventsUrl}?ticket=${fromB.ticket}`);
    expect([401, 404]).toContain(used.statusCode);
    const fromBTerminal = await issue(bWorkspace.id, 'terminal', TOKEN_B);
    expectRefused(await h.app.inject(`${terminalUrl(workspaceId)}?ticket=${fromBTerminal.ticket}`));
  });

  it('takes only a bearer token to issue, and validates the request', async () => {
    h = await apiHarness();
    const { workspaceId } = await h.conversation();
    const { ticket } = await issue(workspaceId, 'terminal');
    const byTicket = await h.app.inject({
      method: 'POST',
      url: `/v1/tickets?ticket=${ticket}&access_token=${TOKEN_A}`,
      payload: { workspaceId, purpose: 'terminal' },
    });
    expect(byTicket.statusCode).toBe(401);
    expect(byTicket.json()).toMatchObject({ error: { code: 'unauthorized' } });

    for (const payload of [
      { workspaceId, purpose: 'files' },
      { workspaceId },
      { purpose: 'events' },
      { workspaceId, purpose: 'events', tenant: 'tenant-b' },
    ]) {
      const bad = await h.app.inject({
        method: 'POST',
        url: '/v1/tickets',
        headers: bearer(TOKEN_A),
        payload,
      });
      expect(bad.statusCode).toBe(400);
      expect(bad.json()).toMatchObject({ error: { code: 'validation_failed' } });
    }
    const unknown = await h.app.inject({
      method: 'POST',
      url: '/v1/tickets',
      headers: bearer(TOKEN_A),
      payload: { workspaceId: 'ws_nope', purpose: 'events' },
    });
    expect(unknown.statusCode).toBe(404);
  });

  it('refuses malformed and made-up tickets without opening anything', async () => {
    h = await apiHarness();
    const { workspaceId, eventsUrl } = await finishedRun();
    for (const ticket of ['', 'nope', `wct_${'A'.repeat(43)}`, TOKEN_A]) {
      expectRefused(await h.app.inject(`${eventsUrl}?ticket=${encodeURIComponent(ticket)}`));
    }
    expectRefused(await h.app.inject(`${terminalUrl(workspaceId)}?ticket=nope`));
  });

  it('never writes a ticket to the logs or keeps it in the state store', async () => {
    h = await apiHarness();
    const { workspaceId, eventsUrl } = await finishedRun();
    const used = await issue(workspaceId, 'events');
    const unused = await issue(workspaceId, 'events');
    expect((await h.app.inject(`${eventsUrl}?ticket=${used.ticket}`)).statusCode).toBe(200);
    expectRefused(await h.app.inject(`${eventsUrl}?after=0&ticket=${used.ticket}`));

    expect(h.logs.some((l) => l.includes('ticket=[redacted]'))).toBe(true);
    for (const line of h.logs) {
      expect(line).not.toContain(used.ticket);
      expect(line).not.toContain(unused.ticket);
      expect(line).not.toContain(TOKEN_A);
    }
    // The store keys the grant by the ticket's digest; the ticket itself names nothing there.
    expect(await h.state.takeTicket(unused.ticket)).toBeNull();
    const digest = createHash('sha256').update(unused.ticket).digest('hex');
    expect(await h.state.takeTicket(digest)).toMatchObject({ workspaceId, purpose: 'events' });
  });

  it('caps the tickets a tenant is issued per TTL window: one more answers 429, other tenants unaffected', async () => {
    h = await apiHarness({ maxTicketsPerTenant: 3 });
    const { workspaceId } = await h.conversation();
    const bWorkspace = await h.catalog.createWorkspace('tenant-b', 'b');
    for (let i = 0; i < 3; i += 1) await issue(workspaceId, 'events');
    const over = await h.app.inject({
      method: 'POST',
      url: '/v1/tickets',
      headers: bearer(TOKEN_A),
      payload: { workspaceId, purpose: 'events' },
    });
    expect(over.statusCode).toBe(429);
    expect(over.json()).toMatchObject({ error: { code: 'rate_limited' } });
    expect(Number(over.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    await issue(bWorkspace.id, 'events', TOKEN_B);
  });

  it('keeps ?access_token= and bearer headers working on both routes', async () => {
    h = await apiHarness();
    const { eventsUrl } = await finishedRun();
    expect((await h.app.inject(`${eventsUrl}?access_token=${TOKEN_A}`)).statusCode).toBe(200);
    expect((await h.app.inject({ url: eventsUrl, headers: bearer(TOKEN_A) })).statusCode).toBe(200);
  });
});
