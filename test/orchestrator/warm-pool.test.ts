import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { docker } from '../support/host.js';
import { dataOf, startHost, waitFor, type OrchestratorTestHost } from './support.js';

describe('the warm pool', () => {
  let host: OrchestratorTestHost;

  beforeAll(async () => {
    host = await startHost({ warmPoolSize: 2 });
  });

  afterAll(async () => {
    await host?.close();
  });

  /** Ids of warm containers whose Docker container is running. */
  const liveWarm = async (): Promise<string[]> => {
    const { state, runtime, orchestrator } = host.workcell;
    const ids = await state.listWarm(orchestrator.pool);
    const live: string[] = [];
    for (const id of ids) {
      const [record, info] = await Promise.all([state.getContainer(id), runtime.inspect(id)]);
      if (record?.state === 'warm' && info?.running) live.push(id);
    }
    return live;
  };

  it('gives the first message of a new workspace a pool container with its files, then refills to 2', async () => {
    await waitFor('a full pool', async () => (await liveWarm()).length === 2, 30_000);
    const pool = await liveWarm();
    const createsBefore = host.runtime.creates;

    const { workspaceId, conversationId } = await host.conversation();
    const put = await host.api(`/v1/workspaces/${workspaceId}/files/input.txt`, {
      method: 'PUT',
      body: 'from the user\n',
      headers: { 'content-type': 'text/plain' },
    });
    expect(put.status).toBe(201);
    const events = await host.send(
      conversationId,
      'MOCK:{"tool": "Bash", "input": {"command": "cp input.txt copy.txt"}}',
    );
    expect(events.at(-1)?.event, JSON.stringify(dataOf(events, 'run.failed'))).toBe(
      'run.completed',
    );

    const ws = await host.workspace(workspaceId);
    expect(ws.container?.state).toBe('idle');
    const used = ws.container?.id ?? '';
    expect(pool, `container ${used} was not in the pool`).toContain(used);
    // The claimed container existed before the message; any create since is the background refill.
    expect(host.runtime.creates - createsBefore).toBeLessThanOrEqual(1);
    expect(await host.file(workspaceId, 'copy.txt')).toBe('from the user\n');

    await waitFor('the pool back to 2', async () => (await liveWarm()).length === 2, 20_000);
    expect(await liveWarm()).not.toContain(used);
    expect(host.runtime.creates - createsBefore).toBe(1);

    // The engine's CPU weights: the pool's containers yield the cores; the claimed one does not.
    const shares = async (id: string): Promise<number> =>
      Number(await docker('inspect', '-f', '{{.HostConfig.CpuShares}}', id));
    for (const id of await liveWarm()) expect(await shares(id)).toBe(128);
    expect(await shares(used)).toBe(1024);
  });

  it('drains a pool built from an older build of the image and replaces it', async () => {
    const tag = `workcell/workspace:pooltest-${randomBytes(4).toString('hex')}`;
    await docker('tag', host.workcell.config.image, tag);
    const other = await startHost({ warmPoolSize: 2, image: tag });
    let scratch = '';
    try {
      const warmOf = async (): Promise<string[]> =>
        other.workcell.state.listWarm(other.workcell.orchestrator.pool);
      await waitFor(
        'a full pool',
        async () => (await other.workcell.pool.warmCount()) === 2,
        30_000,
      );
      const oldIds = await warmOf();

      // A new build under the same name: `docker commit` gives the tag a new image id.
      scratch = (await docker('create', '--network', 'none', tag)).trim();
      await docker('commit', scratch, tag);
      other.workcell.pool.kick();
      await waitFor(
        'old containers drained and the pool refilled',
        async () => {
          const ids = await warmOf();
          return (
            ids.length === 2 &&
            ids.every((id) => !oldIds.includes(id)) &&
            (await other.workcell.pool.warmCount()) === 2
          );
        },
        40_000,
      );
      const newImageId = await other.workcell.runtime.imageId(tag);
      for (const id of await warmOf())
        expect((await other.workcell.runtime.inspect(id))?.imageId).toBe(newImageId);
      for (const id of oldIds) expect(await other.workcell.runtime.inspect(id)).toBeNull();
    } finally {
      await other.close();
      if (scratch) await docker('rm', '-f', scratch).catch(() => '');
      await docker('rmi', tag).catch(() => '');
    }
  });
});
