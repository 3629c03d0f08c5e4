import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LABELS } from '@workcell/host';
import { docker } from '../support/host.js';
import { startHost, type OrchestratorTestHost } from './support.js';

describe('orphans, both ways', () => {
  let host: OrchestratorTestHost;
  const started: string[] = [];

  /** Starts a plain container of the workspace image that sleeps (no agent, no slot). */
  const sleeper = async (labels: Record<string, string>): Promise<string> => {
    const args = Object.entries(labels).flatMap(([k, v]) => ['--label', `${k}=${v}`]);
    const id = (
      await docker(
        'run',
        '-d',
        '--network',
        'none',
        ...args,
        '--entrypoint',
        'sleep',
        host.workcell.config.image,
        '600',
      )
    ).trim();
    started.push(id);
    return id;
  };

  beforeAll(async () => {
    host = await startHost();
  });

  afterAll(async () => {
    for (const id of started) await docker('rm', '-f', id).catch(() => '');
    await host?.close();
  });

  it('removes a labelled container with no state, clears state with no container, and never touches an unlabelled one', async () => {
    const { state, config } = host.workcell;
    const slotId = `corphan${randomBytes(4).toString('hex')}`;
    await host.workcell.slots.create(slotId);
    const orphan = await sleeper({
      [LABELS.managed]: 'true',
      [LABELS.dataDir]: host.dataDir,
      [LABELS.slot]: slotId,
      [LABELS.hostInstance]: 'gone-host',
    });
    const unlabelled = await sleeper({});
    const otherInstallation = await sleeper({
      [LABELS.managed]: 'true',
      [LABELS.dataDir]: '/var/lib/another-workcell',
    });

    const ghostId = randomBytes(32).toString('hex');
    const now = Date.now();
    await state.putContainer({
      id: ghostId,
      slotId: `cghost${randomBytes(4).toString('hex')}`,
      hostId: config.hostId,
      image: config.image,
      state: 'idle',
      workspaceId: 'ws_ghost',
      tenant: 'tenant',
      createdAt: now,
      stateChangedAt: now,
      lastRunEndedAt: now,
      runId: null,
    });
    await state.setAssignment('ws_ghost', ghostId);

    // Young containers may still be being created: the first pass leaves the orphan alone.
    const first = await host.workcell.gc.runOnce();
    expect(first.removed).toEqual([]);
    expect(first.cleared).toEqual([{ id: ghostId, reason: 'container gone' }]);
    expect(await state.getContainer(ghostId)).toBeNull();
    expect(await state.getAssignment('ws_ghost')).toBeNull();

    host.clock.offsetMs = 10 * 60_000;
    const report = await host.workcell.gc.runOnce();
    expect(report.removed).toEqual([{ id: orphan, reason: 'orphan: no state' }]);
    expect(await host.workcell.runtime.inspect(orphan)).toBeNull();
    expect(host.workcell.slots.exists(slotId)).toBe(false);
    expect((await host.workcell.runtime.inspect(unlabelled))?.running).toBe(true);
    expect((await host.workcell.runtime.inspect(otherInstallation))?.running).toBe(true);
  });
});
