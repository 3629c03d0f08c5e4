import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Cluster, Redis } from 'ioredis';
import {
  MemoryStateStore,
  parseRedisUrl,
  RedisStateStore,
  type StateStore,
} from '../../packages/host/src/state/index.js';

/** One StateStore under test, with a second view of the same state and a way to let time pass. */
export interface StoreHarness {
  store: StateStore;
  /** Another client of the same state, as a second host would hold (memory: the same store). */
  peer: StateStore;
  /** Lets `ms` pass for leases, buffers and windows: a fake clock for memory, real time for Redis. */
  elapse(ms: number): Promise<void>;
  close(): Promise<void>;
}

export function memoryHarness(): StoreHarness {
  let now = 1_700_000_000_000;
  const store = new MemoryStateStore({ now: () => now });
  return {
    store,
    peer: store,
    elapse: async (ms) => {
      now += ms;
    },
    close: () => store.close(),
  };
}

/** A unique key prefix per harness, so runs and tests never see each other's keys. */
export function testPrefix(): string {
  return `workcell-test:${randomUUID()}`;
}

/** Deletes every key under `prefix`, on one server or on every master of a cluster. */
export async function deleteKeys(url: string, prefix: string): Promise<void> {
  const target = parseRedisUrl(url);
  if (target.kind === 'single') {
    await deleteOnNode(new Redis(url, { maxRetriesPerRequest: 1 }), prefix);
    return;
  }
  const cluster = new Cluster(target.nodes);
  try {
    await Promise.all(cluster.nodes('master').map((node) => deleteOnNode(node, prefix, false)));
  } finally {
    cluster.disconnect();
  }
}

async function deleteOnNode(redis: Redis, prefix: string, disconnect = true): Promise<void> {
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      cursor = next;
      // One key per DEL: on a cluster node the keys of one call must share a slot.
      for (const key of keys) await redis.del(key);
    } while (cursor !== '0');
  } finally {
    if (disconnect) redis.disconnect();
  }
}

export function redisHarness(url: string): StoreHarness {
  const keyPrefix = testPrefix();
  const store = new RedisStateStore({ url, keyPrefix });
  const peer = new RedisStateStore({ url, keyPrefix });
  return {
    store,
    peer,
    elapse: (ms) => sleep(ms),
    close: async () => {
      try {
        await deleteKeys(url, keyPrefix);
      } finally {
        await store.close();
        await peer.close();
      }
    },
  };
}
