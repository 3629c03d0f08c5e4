/**
 * Shared set-up of the sync benchmarks (bench/sync-throughput.ts, bench/sync-nochange.ts): an
 * s3rver on loopback, in a child process and a temporary directory, and S3ObjectStores on it
 * that count requests.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { S3ObjectStore } from '../packages/host/src/storage/s3-store.js';
import { freePort } from '../test/support/free-port.js';

export const BUCKET = 'workcell-bench';

export interface BenchS3 {
  endpoint: string;
  /** A store under its own prefix; `requests` counts every S3 operation it sends. */
  store(prefix: string): { store: S3ObjectStore; requests: string[] };
  close(): Promise<void>;
}

/** s3rver in a child process, so the server does not share the benchmark's event loop. */
const SERVER = `
const S3rver = require('s3rver');
const [port, directory, bucket] = process.argv.slice(1);
new S3rver({ address: '127.0.0.1', port: Number(port), silent: true, directory, configureBuckets: [{ name: bucket }] })
  .run()
  .then(() => process.stdout.write('ready\\n'), (err) => { console.error(err); process.exit(1); });
`;

export async function startS3(): Promise<BenchS3> {
  const dir = await mkdtemp(join(tmpdir(), 'workcell-bench-s3-'));
  const port = await freePort();
  const child = spawn(
    process.execPath,
    // The legacy provider lets s3rver make its (DES) continuation tokens, so long lists page.
    ['--openssl-legacy-provider', '-e', SERVER, String(port), dir, BUCKET],
    { cwd: fileURLToPath(new URL('..', import.meta.url)), stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`s3rver exited with ${String(code)}`)));
    child.stdout.on('data', (data: Buffer) => {
      if (data.toString().includes('ready')) resolve();
    });
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const stores: S3ObjectStore[] = [];
  return {
    endpoint,
    store(prefix) {
      const requests: string[] = [];
      const store = new S3ObjectStore({
        bucket: BUCKET,
        endpoint,
        prefix,
        credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
        onRequest: (op) => requests.push(op),
      });
      stores.push(store);
      return { store, requests };
    },
    async close() {
      for (const store of stores) await store.close();
      child.removeAllListeners('exit');
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  const value = await fn();
  return { ms: performance.now() - started, value };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}
