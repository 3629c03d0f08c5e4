/**
 * Warm-claim latency of the StateStore. Redis: the claimWarm Lua script against one PING round
 * trip on the same client (the floor for any Redis call). Memory: the in-process claim against
 * the same PING. Run: npx tsx bench/state-claim.ts (WORKCELL_REDIS_URL, default local Redis).
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import {
  MemoryStateStore,
  RedisStateStore,
  type ContainerRecord,
  type StateStore,
} from '../packages/host/src/state/index.js';

const REDIS_URL = process.env.WORKCELL_REDIS_URL ?? 'redis://127.0.0.1:6379';
const IMAGE = 'workcell/workspace:bench';
const WARMUP = 200;
const SAMPLES = 3_000;

function record(id: string): ContainerRecord {
  return {
    id,
    slotId: id,
    hostId: 'bench',
    image: IMAGE,
    state: 'warm',
    workspaceId: null,
    tenant: null,
    createdAt: 0,
    stateChangedAt: 0,
    lastRunEndedAt: null,
    runId: null,
  };
}

async function fillPool(store: StateStore, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    await store.putContainer(record(`c-${i}`));
    await store.addWarm(IMAGE, `c-${i}`);
  }
}

/**
 * Times each op in turn, `samples` rounds after `WARMUP` untimed rounds, interleaved so that
 * both see the same machine noise; microseconds per op, each list sorted.
 */
async function time(
  samples: number,
  ops: ((i: number) => Promise<unknown>)[],
): Promise<number[][]> {
  for (let i = 0; i < WARMUP; i++) for (const op of ops) await op(i);
  const out = ops.map(() => [] as number[]);
  for (let i = 0; i < samples; i++) {
    for (const [k, op] of ops.entries()) {
      const started = performance.now();
      await op(WARMUP + i);
      out[k]!.push((performance.now() - started) * 1_000);
    }
  }
  return out.map((list) => list.sort((a, b) => a - b));
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

const round = (n: number, digits = 2): number => Number(n.toFixed(digits));

function claimer(store: StateStore): (i: number) => Promise<void> {
  return async (i) => {
    const claimed = await store.claimWarm(IMAGE, `w-${i}`, 't', i);
    if (!claimed) throw new Error(`claim ${i} found the pool empty`);
  };
}

async function main(): Promise<void> {
  const keyPrefix = `workcell-bench:${randomUUID()}`;
  const redisStore = new RedisStateStore({ url: REDIS_URL, keyPrefix });
  const admin = new Redis(REDIS_URL);
  try {
    const memoryStore = new MemoryStateStore();
    await fillPool(redisStore, WARMUP + SAMPLES);
    await fillPool(memoryStore, WARMUP + SAMPLES);
    const [ping = [], redisClaim = [], memoryClaim = []] = await time(SAMPLES, [
      () => redisStore.ping(),
      claimer(redisStore),
      claimer(memoryStore),
    ]);

    const pingP50 = pct(ping, 50);
    const pingP99 = pct(ping, 99);
    const result = {
      samples: SAMPLES,
      redisPingUs: { p50: round(pingP50), p99: round(pingP99) },
      redisClaimUs: { p50: round(pct(redisClaim, 50)), p99: round(pct(redisClaim, 99)) },
      memoryClaimUs: { p50: round(pct(memoryClaim, 50)), p99: round(pct(memoryClaim, 99)) },
      redisClaimOverPing: {
        p50: round(pct(redisClaim, 50) / pingP50),
        p99: round(pct(redisClaim, 99) / pingP99),
      },
      memoryClaimOverRedisPing: {
        p50: round(pct(memoryClaim, 50) / pingP50, 4),
        p99: round(pct(memoryClaim, 99) / pingP99, 4),
      },
    };
    console.log(JSON.stringify(result));
    console.log(
      `warm claim: Redis p50 ${result.redisClaimUs.p50} us = ${result.redisClaimOverPing.p50}x PING ` +
        `(p99 ${result.redisClaimUs.p99} us = ${result.redisClaimOverPing.p99}x PING p99); ` +
        `memory p50 ${result.memoryClaimUs.p50} us = ${result.memoryClaimOverRedisPing.p50}x a Redis PING`,
    );
  } finally {
    let cursor = '0';
    do {
      const [next, keys] = await admin.scan(cursor, 'MATCH', `${keyPrefix}:*`, 'COUNT', 1_000);
      cursor = next;
      if (keys.length > 0) await admin.del(...keys);
    } while (cursor !== '0');
    admin.disconnect();
    await redisStore.close();
  }
}

await main();
