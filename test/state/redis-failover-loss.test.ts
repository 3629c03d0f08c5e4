import { WorkcellError } from '@workcell/protocol';
import { Cluster } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { RedisStateStore } from '../../packages/host/src/state/index.js';
import { startReplicatedCluster, type ReplicatedCluster } from '../support/redis-cluster.js';
import { testPrefix } from './harness.js';

/**
 * What a Redis Cluster failover does to a run's event buffer: a replica is promoted with what
 * it had received, so events its master acknowledged but had not yet replicated are gone, and
 * the next append finds the buffer behind the run.
 */
describe('a run buffer across a failover that loses unreplicated writes', () => {
  let cluster: ReplicatedCluster | null = null;
  let store: RedisStateStore | null = null;

  afterEach(async () => {
    await store?.close();
    store = null;
    await cluster?.stop();
    cluster = null;
  });

  it('the promoted replica lacks the acknowledged events, and the next append conflicts with the last one it holds', async () => {
    cluster = await startReplicatedCluster();
    const prefix = testPrefix();
    store = new RedisStateStore({ url: cluster.url, keyPrefix: prefix });
    const runId = 'run_failover_loss';
    const key = `${prefix}:run:{${runId}}:events`;
    const event = (seq: number) => ({ seq, event: 'message' as const, data: `{"n":${seq}}` });

    for (let seq = 1; seq <= 5; seq++) await store.appendRunEvent(runId, event(seq));
    // Let the replica catch up with 1..5, then cut its link: 6..8 are acknowledged by the master only.
    await replicated(cluster.url, key, 5);
    const lift = await cluster.cutReplicationOf(key);
    for (let seq = 6; seq <= 8; seq++) await store.appendRunEvent(runId, event(seq));
    expect(await store.lastRunEventSeq(runId)).toBe(8);

    await cluster.killMasterOf(key);
    lift();
    await cluster.waitHealthy();

    const last = await untilAnswered(() => (store as RedisStateStore).lastRunEventSeq(runId));
    expect(last).toBe(5);
    const conflict = await store.appendRunEvent(runId, event(9)).then(
      () => null,
      (err: unknown) => err,
    );
    expect(conflict).toBeInstanceOf(WorkcellError);
    expect(conflict).toMatchObject({ code: 'conflict', details: { seq: 9, lastSeq: 5 } });
  });
});

/** Waits until a replica holds `count` entries of the stream `key`. */
async function replicated(url: string, key: string, count: number): Promise<void> {
  const nodes = url
    .replace('redis+cluster://', '')
    .split(',')
    .map((hp) => ({ host: '127.0.0.1', port: Number(hp.split(':')[1]) }));
  const replicas = new Cluster(nodes, { scaleReads: 'slave' });
  try {
    const deadline = Date.now() + 10_000;
    while ((await replicas.xlen(key)) < count) {
      if (Date.now() > deadline) throw new Error(`the replica of ${key} lags`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    replicas.disconnect();
  }
}

/** Calls `read` until the cluster answers it (the client finds the promoted replica). */
async function untilAnswered<T>(read: () => Promise<T>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await read();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}
