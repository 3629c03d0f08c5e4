import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TicketPurpose } from '@workcell/protocol';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataOf, removeDataDir, startTestHost, type TestHost } from '../support/host.js';
import { openTerminal } from '../support/terminal.js';
import { startScratchRedis, type ScratchRedis } from '../state/redis-server.js';

/**
 * Attacks on browser tickets, on two real hosts sharing one Redis (as hosts behind a load
 * balancer do): a ticket opens one connection, on one workspace, for one purpose, whichever
 * host it reaches, and the state store never holds the ticket itself.
 */
describe('browser tickets: replay, another tenant, another purpose', () => {
  let redis: ScratchRedis;
  let one: TestHost;
  let two: TestHost;
  const dataDir = mkdtempSync(join(tmpdir(), 'workcell-tickets-'));
  const token = `tok_${randomBytes(16).toString('hex')}`;
  const tenant = `t${randomBytes(4).toString('hex')}`;
  const tokenB = `tok_b_${randomBytes(16).toString('hex')}`;
  /** Tenant A's workspace with a finished run, and tenant B's. */
  let a: { wid: string; eventsPath: string };
  let b: { wid: string; eventsPath: string };

  const issue = async (
    host: TestHost,
    workspaceId: string,
    purpose: TicketPurpose,
    as = token,
  ): Promise<string> => (await host.as(as).tickets.create({ workspaceId, purpose })).ticket;

  /** Opens a run's event stream with a ticket: the status, and the error code when refused. */
  const events = async (
    host: TestHost,
    path: string,
    ticket: string,
  ): Promise<{ status: number; code?: string }> => {
    const res = await host.api(`${path}?ticket=${ticket}`, {
      token: null,
      signal: AbortSignal.timeout(15_000),
    });
    if (res.status === 200) {
      await res.body?.cancel();
      return { status: 200 };
    }
    const body = (await res.json()) as { error?: { code?: string } };
    return { status: res.status, code: body.error?.code ?? '' };
  };

  /** Tries to open a terminal with a ticket: 101 when it opened, else the refusal. */
  const terminal = async (
    host: TestHost,
    workspaceId: string,
    ticket: string,
  ): Promise<{ status: number; code?: string }> => {
    try {
      const t = await openTerminal(host.url, workspaceId, {
        token: null,
        query: `ticket=${ticket}`,
      });
      await t.waitFor(/\$ $/m);
      t.close();
      await t.closed;
      return { status: 101 };
    } catch (err) {
      const { status, body } = err as { status?: number; body?: string };
      const parsed = JSON.parse(body ?? '{}') as { error?: { code?: string } };
      return { status: status ?? 0, code: parsed.error?.code ?? '' };
    }
  };

  const finishedRun = async (
    host: TestHost,
    as: string,
  ): Promise<{ wid: string; eventsPath: string }> => {
    const wc = host.as(as);
    const ws = await wc.workspaces.create({ name: 'tickets' });
    const conv = await wc.conversations.create(ws.id);
    const run = await wc.conversations.send(conv.id, 'MOCK:{"text": "hi"}').toArray();
    expect(run.at(-1)?.event).toBe('run.completed');
    const rid = dataOf<{ runId: string }>(run, 'run.started')[0]?.runId ?? '';
    return { wid: ws.id, eventsPath: `/v1/conversations/${conv.id}/runs/${rid}/events` };
  };

  beforeAll(async () => {
    redis = await startScratchRedis();
    const shared = {
      redisUrl: redis.url,
      dataDir,
      token,
      tenant,
      tokens: { [tokenB]: 'tenant-b' },
      anthropicApiKey: 'sk-ant-test-tickets-0123456789',
    };
    one = await startTestHost(shared);
    two = await startTestHost(shared);
    a = await finishedRun(one, token);
    b = await finishedRun(one, tokenB);
  });

  afterAll(async () => {
    await one?.close();
    await two?.close();
    await redis?.dispose();
    await removeDataDir(dataDir);
  });

  it('a used ticket replayed, on the same host or another, opens nothing', async () => {
    // Issued through one host, used through the other (the workspace's container is on `one`).
    const forTerminal = await issue(two, a.wid, 'terminal');
    expect(await terminal(one, a.wid, forTerminal)).toEqual({ status: 101 });
    for (const host of [one, two])
      expect(await terminal(host, a.wid, forTerminal)).toEqual({
        status: 401,
        code: 'ticket_invalid',
      });

    const forEvents = await issue(two, a.wid, 'events');
    expect(await events(one, a.eventsPath, forEvents)).toEqual({ status: 200 });
    for (const host of [one, two])
      expect(await events(host, a.eventsPath, forEvents)).toEqual({
        status: 401,
        code: 'ticket_invalid',
      });
  });

  it('of two hosts redeeming one ticket at the same moment, one opens the stream', async () => {
    for (let i = 0; i < 5; i += 1) {
      const ticket = await issue(one, a.wid, 'events');
      const answers = await Promise.all([
        events(one, a.eventsPath, ticket),
        events(two, a.eventsPath, ticket),
      ]);
      expect(answers.map((x) => x.status).sort()).toEqual([200, 401]);
    }
  });

  it("a ticket from tenant A used on tenant B's workspace is refused, and B's ticket on A's", async () => {
    const fromA = await issue(one, a.wid, 'terminal');
    expect(await terminal(two, b.wid, fromA)).toEqual({ status: 401, code: 'ticket_invalid' });
    const fromAEvents = await issue(one, a.wid, 'events');
    // A's ticket acts for A, who cannot see B's conversation at all.
    expect((await events(two, b.eventsPath, fromAEvents)).status).not.toBe(200);

    const fromB = await issue(two, b.wid, 'terminal', tokenB);
    expect(await terminal(one, a.wid, fromB)).toEqual({ status: 401, code: 'ticket_invalid' });
    const fromBEvents = await issue(two, b.wid, 'events', tokenB);
    expect((await events(one, a.eventsPath, fromBEvents)).status).not.toBe(200);
    // No ticket is issued for the other tenant's workspace in the first place.
    const asked = await one.api('/v1/tickets', {
      method: 'POST',
      token: tokenB,
      body: JSON.stringify({ workspaceId: a.wid, purpose: 'terminal' }),
    });
    expect(asked.status).toBe(404);
  });

  it('a ticket for events used for the terminal is refused, and the reverse', async () => {
    const forEvents = await issue(one, a.wid, 'events');
    expect(await terminal(two, a.wid, forEvents)).toEqual({ status: 401, code: 'ticket_invalid' });
    // Presented for the wrong purpose, it is used up: it no longer opens its events either.
    expect(await events(one, a.eventsPath, forEvents)).toEqual({
      status: 401,
      code: 'ticket_invalid',
    });
    const forTerminal = await issue(one, a.wid, 'terminal');
    expect(await events(two, a.eventsPath, forTerminal)).toEqual({
      status: 401,
      code: 'ticket_invalid',
    });
  });

  it('Redis holds a digest of each ticket with a TTL, never the ticket; no log line holds one', async () => {
    const ticket = await issue(two, a.wid, 'terminal');
    const digest = createHash('sha256').update(ticket).digest('hex');
    const client = new Redis(redis.url);
    try {
      const keys = await client.keys('*ticket*');
      const key = keys.find((k) => k.includes(digest));
      expect(key).toBeDefined();
      const ttl = await client.pttl(key ?? '');
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(60_000);
      for (const k of await client.keys('*')) {
        expect(k).not.toContain(ticket);
        if ((await client.type(k)) === 'string') expect(await client.get(k)).not.toContain(ticket);
      }
    } finally {
      client.disconnect();
    }
    expect(await terminal(one, a.wid, ticket)).toEqual({ status: 101 });
    for (const line of [...one.logs, ...two.logs]) {
      expect(line).not.toContain(ticket);
      expect(line).not.toContain(token);
    }
  });
});
