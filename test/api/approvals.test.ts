import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentSettings, RunEvent } from '@workcell/client';
import { resultOf, toolResults, workspaceWith } from '../agent/support.js';
import { dataOf, removeDataDir, startTestHost, type TestHost } from '../support/host.js';
import { startScratchRedis, type ScratchRedis } from '../state/redis-server.js';

/**
 * The approvals API on two hosts sharing Redis and the object store: the run lives on one, the
 * client talks to the other. Every route refuses bad input with a stable code and records
 * nothing; a forgotten approval is denied after `WORKCELL_APPROVAL_TIMEOUT_MS` without the wait
 * counting against the run timeout.
 */

const ASK_BASH: AgentSettings = { permissions: { ask: ['Bash'] } };
/** The run timeout leaves room for a loaded machine; the approval timeout outlasts it. */
const RUN_TIMEOUT_MS = 25_000;
const APPROVAL_TIMEOUT_MS = 30_000;

interface Answer {
  status: number;
  code: string | null;
}

async function answer(res: Response): Promise<Answer> {
  const body = (await res.json().catch(() => ({}))) as { error?: { code?: string } };
  return { status: res.status, code: body.error?.code ?? null };
}

/** A webhook receiver that keeps every body. */
async function startReceiver(): Promise<{ url: string; bodies: string[]; close(): Promise<void> }> {
  const bodies: string[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      bodies.push(Buffer.concat(chunks).toString('utf8'));
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    bodies,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

describe('approvals API across two hosts (Redis, real Docker)', () => {
  let redis: ScratchRedis;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let runs: TestHost;
  let other: TestHost;
  const dataDir = mkdtempSync(join(tmpdir(), 'workcell-approvals-'));
  const token = `tok_${randomBytes(16).toString('hex')}`;
  const tenant = `t${randomBytes(4).toString('hex')}`;
  const tokenB = `tok_b_${randomBytes(12).toString('hex')}`;

  beforeAll(async () => {
    redis = await startScratchRedis();
    receiver = await startReceiver();
    const start = (): Promise<TestHost> =>
      startTestHost({
        redisUrl: redis.url,
        dataDir,
        token,
        tenant,
        tokens: { [tokenB]: 'tenant-b' },
        runTimeoutMs: RUN_TIMEOUT_MS,
        approvalTimeoutMs: APPROVAL_TIMEOUT_MS,
        webhookAllowPrivate: 'true',
        webhookUrl: `${receiver.url}/operator`,
        webhookSecret: `whsec_${randomBytes(32).toString('base64')}`,
      });
    runs = await start();
    other = await start();
  });

  afterAll(async () => {
    await other?.close();
    await runs?.close();
    await receiver?.close();
    await redis?.dispose();
    await removeDataDir(dataDir);
  });

  it('refuses bad input on every route with a stable code, records nothing, and takes a decision from another host', async () => {
    const { conversationId: cid } = await workspaceWith(runs, ASK_BASH);
    const events = await collect(
      runs,
      cid,
      'MOCK:{"tool": "Bash", "input": {"command": "echo hi > /workspace/x.txt"}}',
      async (event) => {
        if (event.event !== 'approval.requested') return;
        const aid = event.data.approvalId;
        const path = `/v1/conversations/${cid}/approvals/${aid}`;
        const post = (p: string, body: string, t?: string): Promise<Answer> =>
          other.api(p, { method: 'POST', body, ...(t ? { token: t } : {}) }).then(answer);

        expect(await post(path, '{not json')).toMatchObject({ status: 400, code: 'invalid_json' });
        expect(await post(path, JSON.stringify({ decision: 'maybe' }))).toMatchObject({
          status: 400,
          code: 'validation_failed',
        });
        expect(await post(path, JSON.stringify({ decision: 'allow', extra: 1 }))).toMatchObject({
          status: 400,
        });
        expect(
          await post(path, JSON.stringify({ decision: 'deny', updatedInput: { command: 'ls' } })),
        ).toMatchObject({ status: 400, code: 'validation_failed' });
        expect(
          await post(
            `/v1/conversations/${cid}/approvals/apr_unknownunknownunknown`,
            JSON.stringify({ decision: 'allow' }),
          ),
        ).toMatchObject({ status: 404, code: 'not_found' });
        expect(
          await post(
            `/v1/conversations/conv_nope/approvals/${aid}`,
            JSON.stringify({ decision: 'allow' }),
          ),
        ).toMatchObject({ status: 404, code: 'not_found' });
        // Another tenant cannot see or decide it.
        expect(await post(path, JSON.stringify({ decision: 'allow' }), tokenB)).toMatchObject({
          status: 404,
          code: 'not_found',
        });
        expect(
          await other.api(`/v1/conversations/${cid}/approvals`, { token: tokenB }).then(answer),
        ).toMatchObject({ status: 404, code: 'not_found' });
        // An approval is not a client tool call.
        expect(
          await post(
            `/v1/conversations/${cid}/tool-results/${aid}`,
            JSON.stringify({ content: 'x' }),
          ),
        ).toMatchObject({ status: 404, code: 'not_found' });

        // Nothing was recorded by any of them.
        const [still] = await other.wc.approvals.list(cid);
        expect(still).toMatchObject({ id: aid, status: 'pending', decidedAt: null });

        // The decision arrives at the other host and reaches the one running the run.
        const res = await other.api(path, {
          method: 'POST',
          body: JSON.stringify({ decision: 'deny', message: 'decided elsewhere' }),
        });
        expect(res.status).toBe(200);
        expect(await post(path, JSON.stringify({ decision: 'allow' }))).toMatchObject({
          status: 409,
          code: 'approval_decided',
        });
        expect(
          await runs
            .api(path, { method: 'POST', body: JSON.stringify({ decision: 'allow' }) })
            .then(answer),
        ).toMatchObject({
          status: 409,
          code: 'approval_decided',
        });
      },
    );
    expect(dataOf(events, 'approval.resolved')).toEqual([
      expect.objectContaining({ decision: 'deny', reason: 'client' }),
    ]);
    expect(toolResults(events)[0]?.text).toContain('decided elsewhere');
    const [done] = await other.wc.approvals.list(cid);
    expect(done).toMatchObject({
      status: 'denied',
      reason: 'client',
      message: 'decided elsewhere',
    });

    // The operator's webhook heard approval.requested.
    const deadline = Date.now() + 20_000;
    let hooked: { type: string; data: Record<string, unknown> } | undefined;
    while (!hooked && Date.now() < deadline) {
      hooked = receiver.bodies
        .map((b) => JSON.parse(b) as { type: string; data: Record<string, unknown> })
        .find((b) => b.type === 'approval.requested' && b.data.conversationId === cid);
      if (!hooked) await new Promise((r) => setTimeout(r, 100));
    }
    expect(hooked?.data).toMatchObject({
      tenant,
      conversationId: cid,
      approvalId: done?.id,
      toolName: 'Bash',
    });
  });

  it('refuses bad tool results and takes one from another host', async () => {
    const { conversationId: cid } = await workspaceWith(runs, {
      clientTools: [
        {
          name: 'open_ticket',
          description: 'Opens a support ticket.',
          inputSchema: { type: 'object', properties: { title: { type: 'string' } } },
        },
      ],
    });
    const events = await collect(
      runs,
      cid,
      'MOCK:{"tool": "open_ticket", "input": {"title": "broken"}}',
      async (event) => {
        if (event.event !== 'tool.requested') return;
        const path = `/v1/conversations/${cid}/tool-results/${event.data.callId}`;
        const post = (p: string, body: string, t?: string): Promise<Answer> =>
          other.api(p, { method: 'POST', body, ...(t ? { token: t } : {}) }).then(answer);
        expect(await post(path, '[')).toMatchObject({ status: 400, code: 'invalid_json' });
        expect(await post(path, JSON.stringify({}))).toMatchObject({
          status: 400,
          code: 'validation_failed',
        });
        expect(await post(path, JSON.stringify({ content: 5 }))).toMatchObject({ status: 400 });
        expect(await post(path, JSON.stringify({ content: [{ type: 'video' }] }))).toMatchObject({
          status: 400,
        });
        expect(
          await post(
            `/v1/conversations/${cid}/tool-results/call_unknownunknownunknown`,
            JSON.stringify({ content: 'x' }),
          ),
        ).toMatchObject({ status: 404, code: 'not_found' });
        expect(await post(path, JSON.stringify({ content: 'x' }), tokenB)).toMatchObject({
          status: 404,
          code: 'not_found',
        });
        expect((await other.wc.approvals.list(cid))[0]?.status).toBe('pending');
        expect(
          (await other.api(path, { method: 'POST', body: JSON.stringify({ content: 'TICKET-9' }) }))
            .status,
        ).toBe(200);
        expect(await post(path, JSON.stringify({ content: 'again' }))).toMatchObject({
          status: 409,
          code: 'tool_call_answered',
        });
      },
    );
    expect(events.at(-1)).toMatchObject({ event: 'run.completed' });
    expect(toolResults(events)).toEqual([
      { isError: false, text: expect.stringContaining('TICKET-9') },
    ]);
    expect(resultOf(events)).toBe('done');
  });

  it(
    'denies a forgotten approval with reason timeout; the wait does not count against the run timeout',
    { timeout: 120_000 },
    async () => {
      const { conversationId: cid } = await workspaceWith(runs, ASK_BASH);
      const started = Date.now();
      const events = await runs.send(
        cid,
        'MOCK:{"tool": "Bash", "input": {"command": "echo late"}}',
      );
      const waited = Date.now() - started;
      // The run waited longer than its own timeout and still completed.
      expect(waited).toBeGreaterThan(APPROVAL_TIMEOUT_MS);
      expect(waited).toBeGreaterThan(RUN_TIMEOUT_MS);
      expect(events.at(-1)).toMatchObject({ event: 'run.completed' });
      expect(dataOf(events, 'approval.resolved')).toEqual([
        expect.objectContaining({ decision: 'deny', reason: 'timeout' }),
      ]);
      const [told] = toolResults(events);
      expect(told?.isError).toBe(true);
      expect(told?.text).toContain('in time');
      const [approval] = await other.wc.approvals.list(cid);
      expect(approval).toMatchObject({ status: 'denied', reason: 'timeout' });
    },
  );

  it('lists approvals a page at a time and refuses a foreign cursor', async () => {
    const { conversationId: cid } = await workspaceWith(runs, ASK_BASH);
    const twoCalls =
      'MOCK:{"tool": "Bash", "input": {"command": "echo one"}}\nMOCK:{"tool": "Bash", "input": {"command": "echo two"}}';
    await collect(runs, cid, twoCalls, async (event) => {
      if (event.event === 'approval.requested')
        await other.wc.approvals.decide(cid, event.data.approvalId, { decision: 'allow' });
    });
    const first = await other.wc.approvals.page(cid, { limit: 1 });
    expect(first.items).toHaveLength(1);
    expect(first.nextCursor).not.toBeNull();
    const second = await other.wc.approvals.page(cid, { limit: 1, cursor: first.nextCursor ?? '' });
    expect(second.items).toHaveLength(1);
    expect(second.items[0]?.id).not.toBe(first.items[0]?.id);
    expect(first.items[0]?.input).toEqual({ command: 'echo one' });
    // A cursor of another list (the runs list's encoding) is refused.
    const runsCursor = Buffer.from(JSON.stringify({ l: 'runs', k: 'x' })).toString('base64url');
    const refused = await other.api(`/v1/conversations/${cid}/approvals?cursor=${runsCursor}`);
    expect(await answer(refused)).toMatchObject({ status: 400, code: 'invalid_cursor' });
  });

  it('refuses invalid permission rules and client tools with stable codes', async () => {
    const { workspaceId, conversationId } = await workspaceWith(runs);
    const put = (agent: unknown): Promise<Answer> =>
      runs
        .api(`/v1/workspaces/${workspaceId}/agent`, { method: 'PUT', body: JSON.stringify(agent) })
        .then(answer);
    expect(await put({ permissions: { ask: ['Bash('] } })).toMatchObject({
      status: 400,
      code: 'permission_rule_invalid',
    });
    expect(await put({ permissions: { deny: ['Bash()'] } })).toMatchObject({
      status: 400,
      code: 'permission_rule_invalid',
    });
    expect(await put({ permissions: { allow: ['mcp__github__x(y)'] } })).toMatchObject({
      status: 400,
      code: 'permission_rule_invalid',
    });
    expect(await put({ permissions: { ask: ['two\nlines'] } })).toMatchObject({
      status: 400,
      code: 'permission_rule_invalid',
    });
    const tool = { description: 'd', inputSchema: { type: 'object' } };
    expect(await put({ clientTools: [{ ...tool, name: 'bash' }] })).toMatchObject({
      status: 400,
      code: 'client_tool_invalid',
    });
    expect(await put({ clientTools: [{ ...tool, name: 'has space' }] })).toMatchObject({
      status: 400,
      code: 'client_tool_invalid',
    });
    expect(
      await put({
        clientTools: [
          { ...tool, name: 'x' },
          { ...tool, name: 'X' },
        ],
      }),
    ).toMatchObject({ status: 400, code: 'client_tool_invalid' });
    expect(
      await put({ clientTools: [{ ...tool, name: 'x', inputSchema: { type: 'string' } }] }),
    ).toMatchObject({ status: 400, code: 'client_tool_invalid' });
    expect((await runs.wc.agent.get(workspaceId)).settings).toEqual({});
    const message = await runs.api(`/v1/conversations/${conversationId}/messages`, {
      method: 'POST',
      body: JSON.stringify({ content: 'hi', agent: { permissions: { ask: ['Write(src/**'] } } }),
    });
    expect(await answer(message)).toMatchObject({ status: 400, code: 'permission_rule_invalid' });
    expect((await runs.wc.conversations.get(conversationId)).runs).toHaveLength(0);
    expect(
      await put({
        permissions: {
          allow: ['Bash(npm test:*)', 'Write(src/**)', 'mcp__github__*'],
          ask: ['Bash'],
          deny: ['WebFetch(domain:example.com)'],
        },
      }),
    ).toMatchObject({ status: 200 });
  });

  it('lists the new routes in /openapi.json', async () => {
    const doc = (await (await fetch(`${runs.url}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    expect(Object.keys(doc.paths['/v1/conversations/{cid}/approvals'] ?? {})).toContain('get');
    expect(
      Object.keys(doc.paths['/v1/conversations/{cid}/approvals/{approvalId}'] ?? {}),
    ).toContain('post');
    expect(Object.keys(doc.paths['/v1/conversations/{cid}/tool-results/{callId}'] ?? {})).toContain(
      'post',
    );
  });
});

/** Sends a message on `host` and reads its run, calling `onEvent` on each event as it comes. */
async function collect(
  host: TestHost,
  conversationId: string,
  content: string,
  onEvent: (event: RunEvent) => Promise<void>,
): Promise<RunEvent[]> {
  const events: RunEvent[] = [];
  for await (const event of host.wc.conversations.send(conversationId, content)) {
    events.push(event);
    await onEvent(event);
  }
  return events;
}
