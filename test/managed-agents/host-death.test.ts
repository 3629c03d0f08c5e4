import type Anthropic from '@anthropic-ai/sdk';
import type { BetaManagedAgentsStreamSessionEvents } from '@anthropic-ai/sdk/resources/beta/sessions/events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ScaleHost, ScaleHosts } from '../scale/hosts.js';
import { userText } from './support.js';
import { hostLogs, startTwoHosts } from './two-hosts.js';

type StreamEvent = BetaManagedAgentsStreamSessionEvents;

/** The attach lease's and the session turns lease's TTL (fixed settings of the host). */
const LEASE_TTL_MS = 30_000;

/** The id of an event (every event a session stream carries has one). */
const idOf = (e: StreamEvent): string => ('id' in e ? e.id : '');
const textOf = (e: StreamEvent): string => JSON.stringify(e);

/**
 * Two host processes on one Redis and one S3 store. The host running a session's turn is
 * killed with SIGKILL mid-turn and started again (it adopts the run once its attach lease
 * expires); a stream opened through the other host before the death sees the rest of the turn
 * and its end, and a message sent through the live host during the outage is answered after it.
 */
describe('Managed Agents session whose turn outlives its host', () => {
  let set: ScaleHosts;
  let a: ScaleHost;
  let onA: Anthropic;
  let onB: Anthropic;
  const logs = (): string => hostLogs(set, 6000);

  beforeAll(async () => {
    ({ set, a, onA, onB } = await startTwoHosts());
  }, 180_000);

  afterAll(async () => {
    await set?.close();
  });

  it('a stream on a live host sees the rest of the turn of a host killed mid-turn, once, and a message sent meanwhile is answered after it', async () => {
    const agent = await onA.beta.agents.create({
      name: 'outlives its host',
      model: 'claude-sonnet-4-6',
      tools: [{ type: 'agent_toolset_20260401' }],
    });
    const environment = await onA.beta.environments.create({
      name: 'closed',
      config: { type: 'cloud', networking: { type: 'limited', allowed_hosts: [] } },
    });
    const session = await onA.beta.sessions.create({
      agent: agent.id,
      environment_id: environment.id,
    });

    // Opened through B before anything happens; collects until the message sent during the
    // outage has its answer and the session is idle again.
    const stream = await onB.beta.sessions.events.stream(session.id);
    const seen: Array<{ event: StreamEvent; at: number }> = [];
    let toolStarted: () => void = () => undefined;
    const started = new Promise<void>((resolve) => (toolStarted = resolve));
    const timer = setTimeout(() => stream.controller.abort(), 200_000);
    const done = (async () => {
      try {
        for await (const event of stream) {
          seen.push({ event, at: Date.now() });
          if (event.type === 'agent.tool_use') toolStarted();
          if (
            event.type === 'session.status_idle' &&
            seen.some(
              (s) =>
                s.event.type === 'agent.message' && textOf(s.event).includes('after the outage'),
            )
          )
            break;
        }
      } finally {
        clearTimeout(timer);
      }
    })();

    // The turn runs on A (the message is sent there): a tool that outlasts A's leases.
    const sleepS = (LEASE_TTL_MS + 15_000) / 1000;
    await onA.beta.sessions.events.send(session.id, {
      events: [
        userText(
          [
            `MOCK:{"tool": "bash", "input": {"command": "echo before-death; sleep ${sleepS}; echo after-death"}}`,
            'MOCK:{"text": "the turn survived"}',
          ].join('\n'),
        ),
      ],
    });
    await Promise.race([started, done]);
    await new Promise((r) => setTimeout(r, 1_000));
    await a.process.kill9();
    const killedAt = Date.now();
    // Sent through B while A is dead: it waits for the turn in progress.
    await onB.beta.sessions.events.send(session.id, {
      events: [userText('MOCK:{"text": "after the outage"}')],
    });
    a = await set.restart('a');

    try {
      await done;
      const events = seen.map((s) => s.event);
      const types = events.map((e) => e.type);
      const ids = events.map(idOf);
      expect(new Set(ids).size, 'an event id streamed twice').toBe(ids.length);
      expect(types).not.toContain('session.error');

      // The rest of the first turn arrived after the death: its tool's result and answer.
      const result = seen.find(
        (s) => s.event.type === 'agent.tool_result' && textOf(s.event).includes('after-death'),
      );
      expect(result, 'the tool result of the turn').toBeDefined();
      expect(result?.at).toBeGreaterThan(killedAt);
      const survived = events.findIndex(
        (e) => e.type === 'agent.message' && textOf(e).includes('the turn survived'),
      );
      expect(survived).toBeGreaterThan(-1);
      const firstIdle = types.indexOf('session.status_idle');
      expect(firstIdle).toBeGreaterThan(survived);
      expect(events[firstIdle]).toMatchObject({ stop_reason: { type: 'end_turn' } });

      // Then the message sent during the outage, in a turn of its own.
      const answer = events.findIndex(
        (e) => e.type === 'agent.message' && textOf(e).includes('after the outage'),
      );
      expect(answer).toBeGreaterThan(firstIdle);
      expect(types.slice(firstIdle + 1)).toContain('session.status_running');
      expect(events.at(-1)).toMatchObject({
        type: 'session.status_idle',
        stop_reason: { type: 'end_turn' },
      });

      // Nothing missing: the stream holds every event of the session's history.
      const history: string[] = [];
      for await (const e of onB.beta.sessions.events.list(session.id)) history.push(e.id);
      expect([...ids].sort()).toEqual([...history].sort());
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${logs()}`);
    }
  }, 300_000);
});
