import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { Redis } from 'ioredis';
import { freePort } from './free-port.js';
import { startRedisCluster } from './redis-cluster.js';

/**
 * System tests run against real services. This starts s3rver and a three-master Redis Cluster
 * on loopback for the run and checks that Redis answers (scripts/test.sh starts it and dockerd);
 * a missing service fails the run instead of skipping tests.
 */

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const redisUrl = process.env.WORKCELL_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    throw new Error(
      `Redis at ${redisUrl} does not answer (run scripts/setup-machine.sh): ${String(err)}`,
    );
  } finally {
    redis.disconnect();
  }

  const cluster = await startRedisCluster();

  const s3Dir = mkdtempSync(join(tmpdir(), 'workcell-s3rver-'));
  const s3Port = await freePort();
  // s3rver ships no types.
  const { default: S3rver } = (await import('s3rver')) as unknown as {
    default: new (opts: Record<string, unknown>) => {
      run(): Promise<unknown>;
      close(): Promise<void>;
    };
  };
  const s3 = new S3rver({
    address: '127.0.0.1',
    port: s3Port,
    silent: true,
    directory: s3Dir,
    configureBuckets: [{ name: 'workcell-test' }],
  });
  await s3.run();

  project.provide('redisUrl', redisUrl);
  project.provide('redisClusterUrl', cluster.url);
  project.provide('s3Endpoint', `http://127.0.0.1:${s3Port}`);
  project.provide('s3Bucket', 'workcell-test');

  return async () => {
    await s3.close();
    rmSync(s3Dir, { recursive: true, force: true });
    await cluster.stop();
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
    /** `redis+cluster://...` of the three-master cluster the global set-up runs. */
    redisClusterUrl: string;
    s3Endpoint: string;
    s3Bucket: string;
  }
}
