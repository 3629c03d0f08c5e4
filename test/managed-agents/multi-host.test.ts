import type Anthropic from '@anthropic-ai/sdk';
import type { BetaManagedAgentsStreamSessionEvents } from '@anthropic-ai/sdk/resources/beta/sessions/events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ScaleHost, ScaleHosts } from '../scale/hosts.js';
import { userText } from './support.js';
import { hostLogs, startTwoHosts } from './two-hosts.js';

type StreamEvent = BetaManagedAgentsStreamSessionEvents;

/** A stream opened now, collecting every event with the time it arrived, until `until` holds. */
async function collect(
  client: Anthropic,
  sessionId: string,
  until: (e: StreamEvent, seen: StreamEvent[]) => boolean,
  options: { lastEventId?: string; timeoutMs?: number } = {},
): Promise<{ ready: Promise<void>; done: Promise<Array<{ event: StreamEvent; at: number }>> }> {
  const stream = await client.beta.sessions.events.stream(
    sessionId,
    {},
    options.lastEventId ? { headers: { 'Last-Event-ID': options.lastEventId } } : {},
  );
  const seen: Array<{ event: StreamEvent; at: number }> = [];
  const timer = setTimeout(() => stream.controller.abort(), options.timeoutMs ?? 60_000);
  const done = (async () => {
    try {
      for await (const event of stream) {
        seen.push({ event, at: Date.now() });
        if (
          until(
            event,
            seen.map((s) => s.event),
          )
        )
          break;
      }
    } finally {
      clearTimeout(timer);
    }
    return seen;
  })();
  return { ready: Promise.resolve(), done };
}

const idle = (e: StreamEvent): boolean => e.type === 'session.status_idle';
/** The id of an event (every event a session stream carries has one; the SDK's union also types a start marker without). */
const idOf = (e: StreamEvent): string => ('id' in e ? e.id : '');
const ids = (events: Array<{ event: StreamEvent }>): string[] => events.map((e) => idOf(e.event));

/**
 * Two host processes on one Redis and one S3 store (s3rver), as two machines behind a load
 * balancer: a session's calls may reach either, and its stream on either sees its live events.
 */
describe('Managed Agents sessions across hosts', () => {
  let set: ScaleHosts;
  let a: ScaleHost;
  let onA: Anthropic;
  let onB: Anthropic;
  let agentId: string;
  let environmentId: string;
  const logs = (): string => hostLogs(set, 3000);

  beforeAll(async () => {
    ({ set, a, onA, onB } = await startTwoHosts());
    agentId = (
      await onA.beta.agents.create({
        name: 'across hosts',
        model: 'claude-sonnet-4-6',
        tools: [{ type: 'agent_toolset_20260401' }],
      })
    ).id;
    environmentId = (
      await onA.beta.environments.create({
        name: 'closed',
        config: { type: 'cloud', networking: { type: 'limited', allowed_hosts: [] } },
      })
    ).id;
  }, 180_000);

  afterAll(async () => {
    await set?.close();
  });

  const newSession = () =>
    onA.beta.sessions.create({ agent: agentId, environment_id: environmentId });

  it('a stream on another host sees every event of a turn as it happens, and resumes', async () => {
    const session = await newSession();
    // Opened on B before the turn starts on A; the turn runs a tool, then waits 4 s, then answers.
    const streamB = await collect(onB, session.id, idle, { timeoutMs: 90_000 });
    const streamA = await collect(onA, session.id, idle, { timeoutMs: 90_000 });
    await streamB.ready;
    const sentAt = Date.now();
    await onA.beta.sessions.events.send(session.id, {
      events: [
        userText(
          [
            'MOCK:{"tool": "bash", "input": {"command": "echo live"}}',
            'MOCK:{"sleep_ms": 4000}',
            'MOCK:{"text": "finished"}',
          ].join('\n'),
        ),
      ],
    });
    const [onStreamB, onStreamA] = await Promise.all([streamB.done, streamA.done]);
    const history = [];
    for await (const e of onB.beta.sessions.events.list(session.id)) history.push(e);

    try {
      // Same ids, in the same order, none missing and none twice: what A's own stream saw.
      expect(ids(onStreamB)).toEqual(ids(onStreamA));
      expect(new Set(ids(onStreamB)).size).toBe(onStreamB.length);
      expect(ids(onStreamB)).toEqual(history.map((e) => e.id));
      expect(onStreamB.map((e) => e.event.type)).toEqual(
        expect.arrayContaining([
          'user.message',
          'session.status_running',
          'agent.tool_use',
          'agent.tool_result',
          'agent.message',
          'session.status_idle',
        ]),
      );
      // Live: the tool's result reached B while the model still slept, well before the end.
      const toolResult = onStreamB.find((e) => e.event.type === 'agent.tool_result');
      const end = onStreamB.at(-1);
      expect(toolResult && end && end.at - toolResult.at).toBeGreaterThan(2_500);
      expect(toolResult && toolResult.at - sentAt).toBeLessThan(end ? end.at - sentAt : 0);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${logs()}`);
    }

    // Last-Event-ID on B: the rest of the history after that event, once each.
    const cut = onStreamB.findIndex((e) => e.event.type === 'agent.tool_use');
    const resumed = await collect(onB, session.id, idle, {
      lastEventId: onStreamB[cut] ? idOf(onStreamB[cut].event) : '',
    });
    expect(ids(await resumed.done)).toEqual(ids(onStreamB.slice(cut + 1)));
  }, 120_000);

  it('a follow-up sent through another host is taken and streams on the first', async () => {
    const session = await newSession();
    const first = await collect(onA, session.id, idle);
    await onA.beta.sessions.events.send(session.id, {
      events: [userText('MOCK:{"text": "one"}')],
    });
    await first.done;

    const streamA = await collect(onA, session.id, idle);
    await onB.beta.sessions.events.send(session.id, {
      events: [userText('MOCK:{"text": "two"}')],
    });
    const seen = (await streamA.done).map((e) => e.event);
    const types = seen.map((e) => e.type);
    expect(types).not.toContain('session.error');
    expect(types).toEqual(
      expect.arrayContaining(['user.message', 'session.status_running', 'agent.message']),
    );
    const reply = seen.find((e) => e.type === 'agent.message');
    expect(JSON.stringify(reply)).toContain('two');
    expect(seen.at(-1)).toMatchObject({
      type: 'session.status_idle',
      stop_reason: { type: 'end_turn' },
    });
  }, 120_000);

  it('messages queued through both hosts keep their order, and an interrupt through either host stops the turn', async () => {
    const session = await newSession();
    const stream = await collect(
      onB,
      session.id,
      (e, all) => idle(e) && all.filter(idle).length === 2,
    );
    await onA.beta.sessions.events.send(session.id, {
      events: [userText('MOCK:{"sleep_ms": 3000}\nMOCK:{"text": "first"}')],
    });
    await onB.beta.sessions.events.send(session.id, { events: [userText('second')] });
    await onA.beta.sessions.events.send(session.id, { events: [userText('third')] });
    await onB.beta.sessions.events.send(session.id, { events: [userText('fourth')] });
    const seen = (await stream.done).map((e) => e.event);
    expect(seen.map((e) => e.type)).not.toContain('session.error');
    const history = [];
    for await (const e of onA.beta.sessions.events.list(session.id)) history.push(e);
    const texts = history
      .filter((e) => e.type === 'user.message')
      .map((e) =>
        e.type === 'user.message' ? e.content.map((c) => ('text' in c ? c.text : '')).join('') : '',
      );
    expect(texts.map((t) => t.split('\n')[0])).toEqual([
      'MOCK:{"sleep_ms": 3000}',
      'second',
      'third',
      'fourth',
    ]);
    const lastReply = history.filter((e) => e.type === 'agent.message').at(-1);
    expect(JSON.stringify(lastReply)).toMatch(/second[\s\S]*third[\s\S]*fourth/);

    // A long turn started through A, interrupted through B.
    const interrupted = await collect(onA, session.id, idle);
    await onA.beta.sessions.events.send(session.id, {
      events: [userText('MOCK:{"sleep_ms": 20000}\nMOCK:{"text": "never"}')],
    });
    const startedAt = Date.now();
    for (let i = 0; i < 100; i += 1) {
      if ((await onB.beta.sessions.retrieve(session.id)).status === 'running') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 1_500));
    await onB.beta.sessions.events.send(session.id, { events: [{ type: 'user.interrupt' }] });
    const events = (await interrupted.done).map((e) => e.event);
    expect(Date.now() - startedAt).toBeLessThan(15_000);
    expect(events.map((e) => e.type)).toContain('user.interrupt');
    expect(events.map((e) => e.type)).not.toContain('agent.message');
  }, 150_000);

  it('a confirmation sent through another host reaches the waiting turn, which that host shows idle', async () => {
    const careful = await onA.beta.agents.create({
      name: 'careful across hosts',
      model: 'claude-sonnet-4-6',
      tools: [
        {
          type: 'agent_toolset_20260401',
          configs: [{ name: 'bash', permission_policy: { type: 'always_ask' } }],
        },
      ],
    });
    const session = await onA.beta.sessions.create({
      agent: careful.id,
      environment_id: environmentId,
    });
    const stream = await onB.beta.sessions.events.stream(session.id);
    await onA.beta.sessions.events.send(session.id, {
      events: [userText('MOCK:{"tool": "bash", "input": {"command": "echo confirmed-across"}}')],
    });
    const seen: StreamEvent[] = [];
    const timer = setTimeout(() => stream.controller.abort(), 60_000);
    try {
      for await (const event of stream) {
        seen.push(event);
        if (event.type !== 'session.status_idle') continue;
        if (event.stop_reason.type !== 'requires_action') break;
        // Host A runs the turn; B, which does not, answers for the session as A would.
        expect((await onB.beta.sessions.retrieve(session.id)).status).toBe('idle');
        expect((await onA.beta.sessions.retrieve(session.id)).status).toBe('idle');
        const [waitingOn] = event.stop_reason.event_ids;
        await onB.beta.sessions.events.send(session.id, {
          events: [
            { type: 'user.tool_confirmation', tool_use_id: waitingOn ?? '', result: 'allow' },
          ],
        });
      }
    } finally {
      clearTimeout(timer);
    }
    const types = seen.map((e) => e.type);
    expect(types).toContain('user.tool_confirmation');
    expect(JSON.stringify(seen.filter((e) => e.type === 'agent.tool_result'))).toContain(
      'confirmed-across',
    );
    expect(seen.at(-1)).toMatchObject({
      type: 'session.status_idle',
      stop_reason: { type: 'end_turn' },
    });
  }, 120_000);

  it('a message queued behind a turn of a host that dies is taken by another host', async () => {
    const session = await newSession();
    const first = await collect(onB, session.id, (e) => e.type === 'agent.tool_result');
    await onA.beta.sessions.events.send(session.id, {
      events: [
        userText(
          [
            'MOCK:{"tool": "bash", "input": {"command": "echo started"}}',
            'MOCK:{"sleep_ms": 120000}',
          ].join('\n'),
        ),
      ],
    });
    await first.done;
    const queued = await collect(
      onB,
      session.id,
      (e) => e.type === 'agent.message' && JSON.stringify(e).includes('after the host died'),
      { timeoutMs: 100_000 },
    );
    await onB.beta.sessions.events.send(session.id, {
      events: [userText('MOCK:{"text": "after the host died"}')],
    });
    await a.process.kill9();
    const killedAt = Date.now();
    const seen = (await queued.done).map((e) => e.event);
    expect(
      seen.map((e) => e.type),
      logs(),
    ).toContain('agent.message');
    // The dead host's turns lease and workspace lock expire (30 s each); then B takes the turn.
    expect(Date.now() - killedAt).toBeLessThan(75_000);
  }, 150_000);
});
