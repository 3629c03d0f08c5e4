import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnHost, runCli, type ChildHost } from '../orchestrator/child-host.js';
import { removeContainersOf } from '../orchestrator/support.js';
import { unmountUnder } from '../support/host.js';

/** One host of a multi-host set: its process, environment and data directory. */
export interface ScaleHost {
  name: string;
  hostId: string;
  env: Record<string, string>;
  dataDir: string;
  process: ChildHost;
  url: string;
}

/**
 * Several `workcell serve` processes on one machine, as several machines would run them: each
 * has its own data directory and host id (so it labels and owns its containers), and all share
 * one Redis (a cluster here), one S3 store and the API tokens. They share the one Docker engine
 * only because this machine has one.
 */
export interface ScaleHosts {
  hosts: ScaleHost[];
  token: string;
  /** Starts (again) the host named `name` with its environment and data directory. */
  restart(name: string): Promise<ScaleHost>;
  /** `workcell gc --once` with a host's settings (its data directory). */
  gcOnce(name: string): Promise<{ code: number; stdout: string; stderr: string }>;
  close(): Promise<void>;
}

export async function startScaleHosts(options: {
  names: string[];
  redisUrl: string;
  s3Endpoint: string;
  s3Bucket: string;
  env?: Record<string, string>;
}): Promise<ScaleHosts> {
  const run = randomBytes(4).toString('hex');
  const token = `tok_${randomBytes(16).toString('hex')}`;
  const common = {
    WORKCELL_REDIS_URL: options.redisUrl,
    WORKCELL_S3_BUCKET: options.s3Bucket,
    WORKCELL_S3_ENDPOINT: options.s3Endpoint,
    WORKCELL_S3_PREFIX: `scale-${run}/`,
    WORKCELL_S3_ACCESS_KEY: 'S3RVER',
    WORKCELL_S3_SECRET_KEY: 'S3RVER',
    WORKCELL_API_TOKENS: `${token}=tenant-${run}`,
    WORKCELL_PORT: '0',
    WORKCELL_WARM_POOL_SIZE: '0',
    WORKCELL_CONTAINER_MEMORY_MB: '512',
    WORKCELL_LOG_LEVEL: 'info',
    ANTHROPIC_API_KEY: `sk-ant-test-${randomBytes(12).toString('hex')}`,
    // The workspace image under test (a child host takes no WORKCELL_* from this process).
    ...(process.env.WORKCELL_IMAGE ? { WORKCELL_IMAGE: process.env.WORKCELL_IMAGE } : {}),
    ...options.env,
  };
  const hosts: ScaleHost[] = [];
  const settings = new Map<string, { env: Record<string, string>; dataDir: string }>();
  for (const name of options.names) {
    const dataDir = mkdtempSync(join(tmpdir(), `workcell-scale-${name}-`));
    const hostId = `scale-${name}-${run}`;
    settings.set(name, {
      dataDir,
      env: { ...common, WORKCELL_DATA_DIR: dataDir, WORKCELL_HOST_ID: hostId },
    });
  }
  const start = async (name: string): Promise<ScaleHost> => {
    const s = settings.get(name);
    if (!s) throw new Error(`no host ${name}`);
    const process = await spawnHost(s.env);
    return {
      name,
      hostId: s.env.WORKCELL_HOST_ID as string,
      env: s.env,
      dataDir: s.dataDir,
      process,
      url: process.url,
    };
  };
  try {
    for (const name of options.names) hosts.push(await start(name));
  } catch (err) {
    for (const h of hosts) await h.process.kill9();
    throw err;
  }
  return {
    hosts,
    token,
    async restart(name) {
      const host = await start(name);
      const at = hosts.findIndex((h) => h.name === name);
      if (at >= 0) hosts[at] = host;
      else hosts.push(host);
      return host;
    },
    gcOnce(name) {
      const s = settings.get(name);
      if (!s) throw new Error(`no host ${name}`);
      return runCli(['gc', '--once'], s.env);
    },
    async close() {
      for (const h of hosts) await h.process.kill9();
      for (const s of settings.values()) {
        await removeContainersOf(s.dataDir);
        // A host killed with -9 leaves its slots' disk volumes mounted.
        await unmountUnder(s.dataDir);
        rmSync(s.dataDir, { recursive: true, force: true });
      }
    },
  };
}
