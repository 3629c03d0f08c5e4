import { startS3rver } from '../test/support/local-s3.js';
import { startRedisCluster, type TestRedisCluster } from '../test/support/redis-cluster.js';
import { startScaleHosts, type ScaleHost, type ScaleHosts } from '../test/scale/hosts.js';
import { client, type Client } from '../test/orchestrator/support.js';

/**
 * What the multi-host benchmarks run on: a three-master Redis Cluster on loopback (ports from
 * WORKCELL_TEST_REDIS_CLUSTER_PORTS, default 7101-7103), s3rver, and host processes each with
 * its own data directory, as in test/scale/multi-host.test.ts.
 */
export interface ScaleBench {
  cluster: TestRedisCluster;
  s3Endpoint: string;
  start(names: string[], env?: Record<string, string>): Promise<ScaleHosts>;
  close(): Promise<void>;
}

export async function scaleBench(): Promise<ScaleBench> {
  const cluster = await startRedisCluster();
  const s3 = await startS3rver('workcell-bench');
  const s3Endpoint = s3.endpoint;
  return {
    cluster,
    s3Endpoint,
    start: (names, env = {}) =>
      startScaleHosts({
        names,
        redisUrl: cluster.url,
        s3Endpoint,
        s3Bucket: s3.bucket,
        env: { WORKCELL_LOG_LEVEL: 'warn', WORKCELL_RATE_LIMIT_PER_MINUTE: '0', ...env },
      }),
    async close() {
      await s3.close();
      await cluster.stop();
    },
  };
}

export const on = (host: ScaleHost, token: string): Client => client(host.url, token);

export function pct(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

export const round = (n: number, digits = 2): number => Number(n.toFixed(digits));
