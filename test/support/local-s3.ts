import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';

export interface LocalS3 {
  endpoint: string;
  bucket: string;
  close(): Promise<void>;
}

/** s3rver on a free loopback port, with `bucket` created, in a directory of its own. */
export async function startS3rver(bucket: string): Promise<LocalS3> {
  const directory = mkdtempSync(join(tmpdir(), 'workcell-s3rver-'));
  const port = await freePort();
  // s3rver ships no types.
  const { default: S3rver } = (await import('s3rver')) as unknown as {
    default: new (opts: Record<string, unknown>) => {
      run(): Promise<unknown>;
      close(): Promise<void>;
    };
  };
  const s3 = new S3rver({
    address: '127.0.0.1',
    port,
    silent: true,
    directory,
    configureBuckets: [{ name: bucket }],
  });
  await s3.run();
  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    async close() {
      await s3.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

/** s3rver that a test stops and starts again on the same port, its objects kept. */
export interface StoppableS3 extends LocalS3 {
  /** Stops answering: the port refuses connections until `start`. */
  stop(): Promise<void>;
  start(): Promise<void>;
}

/** Like `startS3rver`, but the server can be stopped and started again with the same data. */
export async function startStoppableS3rver(bucket: string): Promise<StoppableS3> {
  const directory = mkdtempSync(join(tmpdir(), 'workcell-s3rver-'));
  const port = await freePort();
  // s3rver ships no types.
  const { default: S3rver } = (await import('s3rver')) as unknown as {
    default: new (opts: Record<string, unknown>) => {
      run(): Promise<unknown>;
      close(): Promise<void>;
    };
  };
  const make = () =>
    new S3rver({
      address: '127.0.0.1',
      port,
      silent: true,
      directory,
      configureBuckets: [{ name: bucket }],
    });
  let server: ReturnType<typeof make> | null = make();
  await server.run();
  const stop = async (): Promise<void> => {
    const running = server;
    server = null;
    await running?.close();
  };
  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    stop,
    async start() {
      if (server) return;
      server = make();
      await server.run();
    },
    async close() {
      await stop();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
