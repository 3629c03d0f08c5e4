import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ReadyAgentCount,
  runContainersCounted,
  warmContainersCounted,
} from '../../src/containers/ready-count.js';
import type { AcquiredContainer, RunContainers } from '../../src/containers/run-containers.js';
import { HealthChecks } from '../../src/metrics/health.js';
import { WorkcellMetrics } from '../../src/metrics/metrics.js';
import { MemoryStateStore } from '../../src/state/memory-store.js';
import type { ContainerRecord } from '../../src/state/state-store.js';
import { DirectoryObjectStore } from '../../src/storage/directory-store.js';
import { ManualClock } from '../../src/time/clock.js';
import { FakeRuntime } from './fakes.js';

const dir = mkdtempSync(join(tmpdir(), 'wc-ready-count-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SETTINGS = { pollMs: 250, settleMs: 2_000, refreshMs: 60_000 };

function record(id: string, state: ContainerRecord['state'] = 'warm'): ContainerRecord {
  return {
    id,
    slotId: `slot-${id}`,
    hostId: 'h',
    image: 'img',
    state,
    workspaceId: null,
    tenant: null,
    createdAt: 0,
    stateChangedAt: 0,
    lastRunEndedAt: null,
    runId: null,
  };
}

/** A count over containers in a memory state store whose agents answer from `agents`. */
async function counted(ids: string[]) {
  const state = new MemoryStateStore();
  for (const id of ids) await state.putContainer(record(id));
  const clock = new ManualClock(0);
  /** Container id -> whether its agent has a ready process now. */
  const agents = new Map<string, boolean>(ids.map((id) => [id, true]));
  const asked: string[] = [];
  const count = new ReadyAgentCount({
    containers: () => state.listContainers(),
    container: (id) => state.getContainer(id),
    ask: (r) => {
      asked.push(r.id);
      return Promise.resolve(agents.get(r.id) ?? false);
    },
    clock,
    logger: pino({ level: 'silent' }),
    settings: SETTINGS,
  });
  return { state, clock, agents, asked, count };
}

describe("the host's count of ready agents", () => {
  it('/health and /metrics report it without asking any agent', async () => {
    const { state, asked, count } = await counted(['c1', 'c2', 'c3']);
    await count.refresh();
    expect(asked).toHaveLength(3);
    const health = new HealthChecks({
      runtime: new FakeRuntime(),
      state,
      objects: new DirectoryObjectStore({ root: dir }),
      image: 'img',
      accepting: () => true,
      readyAgents: () => count.value,
    });
    const metrics = new WorkcellMetrics(() => state.listContainers(), {
      defaultMetrics: false,
      readyAgents: () => count.value,
    });
    for (let i = 0; i < 10; i += 1) {
      expect((await health.health()).pool.ready).toBe(3);
      expect(await metrics.render()).toMatch(/^workcell_agent_ready 3$/m);
    }
    expect(asked).toHaveLength(3);
    count.close();
  });

  it('a run beginning and ending asks only its container, until its agent settles', async () => {
    const { clock, agents, asked, count } = await counted(['c1', 'c2']);
    await count.refresh();
    asked.length = 0;
    const inner: RunContainers = {
      acquire: () => Promise.resolve({ record: record('c1', 'assigned') } as AcquiredContainer),
      reattach: () => Promise.resolve(null),
      beginRun: () => Promise.resolve(true),
      endRun: () => Promise.resolve(),
      remove: () => Promise.resolve(),
      markFailed: () => Promise.resolve(),
    };
    const containers = runContainersCounted(inner, count);

    // The run uses c1's ready process.
    agents.set('c1', false);
    await containers.beginRun('c1', 'run_1');
    await clock.advanceAsync(0);
    expect(count.value).toBe(1);
    // The run ends; the agent's next process starts a moment later.
    await containers.endRun('c1');
    await clock.advanceAsync(500);
    expect(count.value).toBe(1);
    agents.set('c1', true);
    await clock.advanceAsync(250);
    expect(count.value).toBe(2);
    // Asked while it settles (several changes in a row make one chain), then no more.
    await clock.advanceAsync(SETTINGS.settleMs * 2);
    expect(new Set(asked)).toEqual(new Set(['c1']));
    const settled = asked.length;
    expect(settled).toBeLessThanOrEqual(SETTINGS.settleMs / SETTINGS.pollMs + 4);
    await clock.advanceAsync(SETTINGS.settleMs * 2);
    expect(asked).toHaveLength(settled);
    count.close();
  });

  it('a container removed, by the warm pool or any other way, stops counting', async () => {
    const { state, clock, count } = await counted(['c1', 'c2', 'c3']);
    await count.refresh();
    expect(count.value).toBe(3);
    const warm = warmContainersCounted(
      {
        createContainer: () => Promise.resolve(record('c4')),
        remove: async (id) => state.deleteContainer(id),
      },
      count,
    );
    await warm.remove('c1', 'test');
    await clock.advanceAsync(0);
    expect(count.value).toBe(2);
    // The GC removed c2's slot.
    count.forgetSlot('slot-c2');
    expect(count.value).toBe(1);
    count.close();
  });

  it('every agent is asked again every refreshMs, for a process that closed on its own', async () => {
    const { clock, agents, count } = await counted(['c1']);
    count.start();
    await clock.advanceAsync(0);
    expect(count.value).toBe(1);
    agents.set('c1', false);
    await clock.advanceAsync(SETTINGS.refreshMs);
    expect(count.value).toBe(0);
    count.close();
  });
});
