import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHost, type TestHost } from '../support/host.js';
import { waitForContainerReady, waitForReady } from '../support/ready.js';

/**
 * `WORKCELL_AGENT_READY_MAX=1` with a warm pool of 2: at most one container of the host keeps a
 * ready Claude Code process; using another releases the least recently used one first.
 */
describe('ready agent processes are bounded by WORKCELL_AGENT_READY_MAX', () => {
  let host: TestHost;
  /** The most ready processes `/health` reported at once while the test ran. */
  let most = 0;
  let sampling = true;
  let sampler: Promise<void> = Promise.resolve();

  beforeAll(async () => {
    host = await startTestHost({ warmPoolSize: 2, agentReadyMax: 1, agentReadyIdleMs: 120_000 });
    await host.workcell.pool.settled();
    await waitForReady(host, 1);
    sampler = (async () => {
      while (sampling) {
        const health = await host.wc.health().catch(() => null);
        if (health) most = Math.max(most, health.pool.ready);
        await new Promise((r) => setTimeout(r, 150));
      }
    })();
  });

  afterAll(async () => {
    sampling = false;
    await sampler;
    await host?.close();
  });

  /** Which of the host's containers have a ready process now, by id. */
  async function holders(): Promise<string[]> {
    const records = await host.workcell.state.listContainers();
    const ready: string[] = [];
    for (const r of records)
      if ((await host.workcell.orchestrator.readyAgents([r])) === 1) ready.push(r.id);
    return ready;
  }

  /** `/health` `pool.ready` and the `workcell_agent_ready` gauge, read one after the other. */
  async function reported(): Promise<{ health: number; gauge: number }> {
    const health = (await host.wc.health()).pool.ready;
    const text = await host.workcell.metrics.render();
    const gauge = Number(/^workcell_agent_ready (\d+)$/m.exec(text)?.[1] ?? NaN);
    return { health, gauge };
  }

  async function containerOf(workspaceId: string): Promise<string> {
    return (await host.wc.workspaces.get(workspaceId)).container?.id ?? '';
  }

  it('of two warm containers only one holds a ready process; health and the gauge agree', async () => {
    const warm = (await host.workcell.state.listContainers()).filter((r) => r.state === 'warm');
    expect(warm).toHaveLength(2);
    // Long enough for the other warm agent's process to have started had it not been released.
    await new Promise((r) => setTimeout(r, 3000));
    const ready = await holders();
    expect(ready, `ready: ${ready.join(', ')}`).toHaveLength(1);
    expect(warm.map((r) => r.id)).toContain(ready[0]);
    expect(await reported()).toEqual({ health: 1, gauge: 1 });
  });

  it('using the container without one releases the one that holds it first', async () => {
    const { workspaceId, conversationId } = await host.conversation();
    const first = await host.send(conversationId, 'MOCK:{"text": "first"}');
    expect(first.map((e) => e.event).at(-1)).toBe('run.completed');
    const mine = await containerOf(workspaceId);
    // The pool made a new warm container for the one this workspace claimed: the newest one
    // holds the ready process and this workspace's container, used before it, was released.
    await host.workcell.pool.settled();
    await waitForReady(host, 1);
    await new Promise((r) => setTimeout(r, 3000));
    const before = await holders();
    expect(before, `ready: ${before.join(', ')}, mine: ${mine}`).toHaveLength(1);
    expect(before[0]).not.toBe(mine);

    // The follow-up uses this workspace's container: the other holder is released, and this
    // agent starts the conversation's next turn.
    const second = await host.send(conversationId, 'MOCK:{"text": "second"}');
    expect(second.map((e) => e.event).at(-1)).toBe('run.completed');
    await waitForContainerReady(host, mine);
    await new Promise((r) => setTimeout(r, 1000));
    expect(await holders()).toEqual([mine]);
    expect(await reported()).toEqual({ health: 1, gauge: 1 });
    expect(most).toBeLessThanOrEqual(1);
    const released = host.logs.filter((l) =>
      l.includes('ready process released (least recently used)'),
    );
    expect(released.length).toBeGreaterThanOrEqual(2);
  });
});
