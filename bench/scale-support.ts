import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../test/support/free-port.js';
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
  const s3Dir = mkdtempSync(join(tmpdir(), 'workcell-bench-s3-'));
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
    configureBuckets: [{ name: 'workcell-bench' }],
  });
  await s3.run();
  const s3Endpoint = `http://127.0.0.1:${s3Port}`;
  return {
    cluster,
    s3Endpoint,
    start: (names, env = {}) =>
      startScaleHosts({
        names,
        redisUrl: cluster.url,
        s3Endpoint,
        s3Bucket: 'workcell-bench',
        env: { WORKCELL_LOG_LEVEL: 'warn', WORKCELL_RATE_LIMIT_PER_MINUTE: '0', ...env },
      }),
    async close() {
      await s3.close();
      rmSync(s3Dir, { recursive: true, force: true });
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
