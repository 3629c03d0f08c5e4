import { Cluster } from 'ioredis';
import { describe, expect, inject, it } from 'vitest';
import { parseRedisUrl, RedisStateStore } from '../../packages/host/src/state/index.js';
import { redisHarness } from './harness.js';

describe('state on a three-master Redis Cluster', () => {
  it('spreads the keys of many workspaces, containers and runs over every master', async () => {
    const url = inject('redisClusterUrl');
    const h = redisHarness(url);
    const target = parseRedisUrl(url);
    if (target.kind !== 'cluster') throw new Error(`${url} is not a cluster URL`);
    const cluster = new Cluster(target.nodes);
    try {
      for (let i = 0; i < 30; i += 1) {
        await h.store.setAssignment(`ws-${i}`, `c-${i}`);
        await h.store.acquireLease(`run:ws-${i}`, `run-${i}`, 60_000);
        await h.store.appendRunEvent(`run-${i}`, { seq: 1, event: 'run.started', data: '{}' });
      }
      if (!(h.store instanceof RedisStateStore)) throw new Error('not a Redis store');
      const prefix = h.store.keys.prefix;
      const perMaster = await Promise.all(
        cluster.nodes('master').map(async (node) => {
          let count = 0;
          let cursor = '0';
          do {
            const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
            cursor = next;
            count += keys.length;
          } while (cursor !== '0');
          return count;
        }),
      );
      expect(perMaster).toHaveLength(3);
      expect(perMaster.reduce((a, b) => a + b, 0)).toBe(30 * 3);
      for (const count of perMaster) expect(count).toBeGreaterThan(0);
    } finally {
      cluster.disconnect();
      await h.close();
    }
  });
});
