import type { TestProject } from 'vitest/node';
import { Redis } from 'ioredis';
import { startRedisCluster } from './redis-cluster.js';
import { startS3rver } from './local-s3.js';

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

  const s3 = await startS3rver('workcell-test');

  project.provide('redisUrl', redisUrl);
  project.provide('redisClusterUrl', cluster.url);
  project.provide('s3Endpoint', s3.endpoint);
  project.provide('s3Bucket', s3.bucket);

  return async () => {
    await s3.close();
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
