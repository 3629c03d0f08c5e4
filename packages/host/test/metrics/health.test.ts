import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HealthChecks } from '../../src/metrics/health.js';
import { MemoryStateStore } from '../../src/state/memory-store.js';
import type { ContainerRecord } from '../../src/state/state-store.js';
import { DirectoryObjectStore } from '../../src/storage/directory-store.js';
import { FakeRuntime } from '../containers/fakes.js';

const dir = mkdtempSync(join(tmpdir(), 'wc-health-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function record(id: string, slotId: string, state: ContainerRecord['state']): ContainerRecord {
  return {
    id,
    slotId,
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

describe('/health pool counts', () => {
  it("count this host's containers only, when hosts share a state store", async () => {
    const state = new MemoryStateStore();
    await state.putContainer(record('c1', 'mine1', 'warm'));
    await state.putContainer(record('c2', 'theirs1', 'warm'));
    await state.putContainer(record('c3', 'mine2', 'running'));
    const mine = new Set(['mine1', 'mine2']);
    const health = new HealthChecks({
      runtime: new FakeRuntime(),
      state,
      objects: new DirectoryObjectStore({ root: dir }),
      image: 'img',
      accepting: () => true,
      containers: async () => (await state.listContainers()).filter((r) => mine.has(r.slotId)),
    });
    expect((await health.health()).pool).toEqual({ warm: 1, assigned: 0, running: 1, ready: 0 });
    const everyone = new HealthChecks({
      runtime: new FakeRuntime(),
      state,
      objects: new DirectoryObjectStore({ root: dir }),
      image: 'img',
      accepting: () => true,
    });
    expect((await everyone.health()).pool).toEqual({ warm: 2, assigned: 0, running: 1, ready: 0 });
  });
});
