import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Cluster, Redis } from 'ioredis';
import { freePort } from './free-port.js';

/**
 * A real three-master Redis Cluster on loopback for the system tests, built with Debian's
 * `redis-server --cluster-enabled yes` and `redis-cli --cluster create`. Ports come from
 * `WORKCELL_TEST_REDIS_CLUSTER_PORTS` (default 7101,7102,7103; each node's bus is port + 10000).
 * A cluster already answering on those ports is used as it is.
 */
export interface TestRedisCluster {
  readonly url: string;
  readonly ports: number[];
  stop(): Promise<void>;
}

export function clusterPorts(): number[] {
  const raw = process.env.WORKCELL_TEST_REDIS_CLUSTER_PORTS ?? '7101,7102,7103';
  const ports = raw.split(',').map((p) => Number(p.trim()));
  if (ports.length !== 3 || ports.some((p) => !Number.isInteger(p) || p < 1 || p > 55535)) {
    throw new Error(`WORKCELL_TEST_REDIS_CLUSTER_PORTS must be three ports, not ${raw}`);
  }
  return ports;
}

async function clusterState(port: number): Promise<string | null> {
  const redis = new Redis({
    port,
    host: '127.0.0.1',
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 500,
  });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    const info = await redis.cluster('INFO');
    return /cluster_state:(\w+)/.exec(info)?.[1] ?? null;
  } catch {
    return null;
  } finally {
    redis.disconnect();
  }
}

async function allOk(ports: number[]): Promise<boolean> {
  const states = await Promise.all(ports.map(clusterState));
  return states.every((s) => s === 'ok');
}

export async function startRedisCluster(): Promise<TestRedisCluster> {
  const ports = clusterPorts();
  const url = `redis+cluster://${ports.map((p) => `127.0.0.1:${p}`).join(',')}`;
  if (await allOk(ports)) return { url, ports, stop: async () => undefined };

  const dir = mkdtempSync(join(tmpdir(), 'workcell-redis-cluster-'));
  const pids: number[] = [];
  const stop = async (): Promise<void> => {
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    await sleep(100);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const port of ports) {
      const nodeDir = join(dir, String(port));
      mkdirSync(nodeDir);
      const child = spawnNode(port, nodeDir);
      if (child.pid === undefined) throw new Error('redis-server did not start');
      pids.push(child.pid);
    }
    const deadline = Date.now() + 10_000;
    while ((await Promise.all(ports.map(clusterState))).some((s) => s === null)) {
      if (Date.now() > deadline)
        throw new Error(`cluster nodes on ${ports.join(',')} do not answer`);
      await sleep(50);
    }
    const created = spawnSync(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...ports.map((p) => `127.0.0.1:${p}`),
        '--cluster-replicas',
        '0',
        '--cluster-yes',
      ],
      { encoding: 'utf8', timeout: 30_000 },
    );
    if (created.status !== 0) {
      throw new Error(`redis-cli --cluster create failed: ${created.stdout}${created.stderr}`);
    }
    while (!(await allOk(ports))) {
      if (Date.now() > deadline + 20_000) {
        const log = readFileSync(join(dir, String(ports[0]), 'redis.log'), 'utf8');
        throw new Error(`cluster on ${ports.join(',')} did not reach state ok: ${log}`);
      }
      await sleep(100);
    }
    // Every node must know every slot's owner before the first test writes.
    const probe = new Cluster(ports.map((port) => ({ host: '127.0.0.1', port })));
    try {
      await probe.set('workcell-test:cluster-probe', '1');
      await probe.del('workcell-test:cluster-probe');
    } finally {
      probe.disconnect();
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, ports, stop };
}

/** One `redis-server --cluster-enabled yes` on `port`, its files in `nodeDir`. */
function spawnNode(port: number, nodeDir: string): ChildProcess {
  return spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--cluster-enabled',
      'yes',
      '--cluster-config-file',
      join(nodeDir, 'nodes.conf'),
      '--cluster-node-timeout',
      '2000',
      '--save',
      '',
      '--appendonly',
      'no',
      // A replica's first full sync starts at once instead of after the default 5 s delay.
      '--repl-diskless-sync-delay',
      '0',
      '--dir',
      nodeDir,
      '--logfile',
      join(nodeDir, 'redis.log'),
    ],
    { stdio: 'ignore', detached: false },
  );
}

/**
 * A Redis Cluster of its own for a test that kills nodes: three masters, each with one replica,
 * on free loopback ports. `killMasterOf(key)` kills (SIGKILL) the master serving `key`'s slot;
 * its replica is promoted by the cluster within a few seconds (node timeout 2 s).
 */
export interface ReplicatedCluster {
  readonly url: string;
  readonly ports: number[];
  /** Kills the master of `key`'s slot and waits until its replica serves it; answers its port. */
  killMasterOf(key: string): Promise<number>;
  /**
   * Stops the replication stream from the master of `key`'s slot to its replica (an iptables
   * rule dropping the master's packets on that one connection), so writes the master
   * acknowledges from now on never reach the replica: killing the master then loses them, as an
   * asynchronous replica that lagged behind would (lift the cut only once a replica is promoted: the dead master's kernel
   * still sends what it held). Answers a function that lifts the rule.
   */
  cutReplicationOf(key: string): Promise<() => void>;
  /** Waits until every slot is served again (a replica promoted). */
  waitHealthy(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** The port of the master serving `key`, asked of the node on `port`. */
async function masterOf(port: number, key: string): Promise<number> {
  const redis = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
  // A node that just died refuses the connection: the call fails, the caller asks again.
  redis.on('error', () => undefined);
  try {
    const slot = Number(await redis.cluster('KEYSLOT', key));
    const slots = await redis.cluster('SLOTS');
    const range = slots.find(([from, to]) => slot >= from && slot <= to);
    const master = range?.[2];
    if (!master) throw new Error(`no node serves slot ${slot}`);
    return master[1];
  } finally {
    redis.disconnect();
  }
}

/** The local port of the replication connection each replica of the master on `port` holds. */
async function replicaLinkPorts(port: number): Promise<number[]> {
  const redis = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
  try {
    const list = String(await redis.call('CLIENT', 'LIST', 'TYPE', 'replica'));
    return [...list.matchAll(/addr=127\.0\.0\.1:(\d+)/g)].map((m) => Number(m[1]));
  } finally {
    redis.disconnect();
  }
}

/**
 * Waits until every replica among `ports` finished its first sync with its master: a replica
 * that has not is never promoted, so killing its master would leave its slots unserved.
 */
async function replicasInSync(ports: number[], deadline: number): Promise<void> {
  const linkStatus = async (port: number): Promise<string> => {
    const redis = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
    try {
      const info = await redis.info('replication');
      if (/role:master/.test(info)) return 'master';
      return /master_link_status:(\w+)/.exec(info)?.[1] ?? 'unknown';
    } finally {
      redis.disconnect();
    }
  };
  for (;;) {
    const states = await Promise.all(ports.map(linkStatus));
    if (states.every((s) => s === 'master' || s === 'up')) return;
    if (Date.now() > deadline) throw new Error(`replicas not in sync: ${states.join(',')}`);
    await sleep(100);
  }
}

/** Adds (`-I`) or deletes (`-D`) the rule dropping the master's packets to one replica link. */
function dropRule(op: '-I' | '-D', masterPort: number, linkPort: number): void {
  const rule = ['INPUT', '-p', 'tcp', '-s', '127.0.0.1', '--sport', String(masterPort)];
  const done = spawnSync(
    'iptables',
    [op, ...rule, '-d', '127.0.0.1', '--dport', String(linkPort), '-j', 'DROP'],
    { encoding: 'utf8', timeout: 10_000 },
  );
  if (done.status !== 0) throw new Error(`iptables ${op} failed: ${done.stderr}`);
}

export async function startReplicatedCluster(): Promise<ReplicatedCluster> {
  const ports: number[] = [];
  while (ports.length < 6) {
    const port = await freePort();
    // The cluster bus listens on port + 10000.
    if (port + 10_000 <= 65_535 && !ports.includes(port)) ports.push(port);
  }
  const dir = mkdtempSync(join(tmpdir(), 'workcell-redis-replicated-'));
  const children = new Map<number, ChildProcess>();
  const cuts: (() => void)[] = [];
  const stop = async (): Promise<void> => {
    for (const lift of cuts.splice(0)) lift();
    for (const child of children.values()) child.kill('SIGKILL');
    await sleep(100);
    rmSync(dir, { recursive: true, force: true });
  };
  const healthy = async (timeoutMs: number): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    const alive = () =>
      [...children.entries()]
        .filter(([, c]) => c.exitCode === null && c.signalCode === null)
        .map(([p]) => p);
    while (!(await allOk(alive()))) {
      if (Date.now() > deadline) throw new Error(`cluster on ${ports.join(',')} is not ok`);
      await sleep(100);
    }
  };
  try {
    for (const port of ports) {
      const nodeDir = join(dir, String(port));
      mkdirSync(nodeDir);
      children.set(port, spawnNode(port, nodeDir));
    }
    const deadline = Date.now() + 10_000;
    while ((await Promise.all(ports.map(clusterState))).some((s) => s === null)) {
      if (Date.now() > deadline)
        throw new Error(`cluster nodes on ${ports.join(',')} do not answer`);
      await sleep(50);
    }
    const created = spawnSync(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...ports.map((p) => `127.0.0.1:${p}`),
        '--cluster-replicas',
        '1',
        '--cluster-yes',
      ],
      { encoding: 'utf8', timeout: 30_000 },
    );
    if (created.status !== 0)
      throw new Error(`redis-cli --cluster create failed: ${created.stdout}${created.stderr}`);
    await healthy(30_000);
    await replicasInSync(ports, deadline + 30_000);
    const probe = new Cluster(ports.map((port) => ({ host: '127.0.0.1', port })));
    try {
      await probe.set('workcell-test:cluster-probe', '1');
      await probe.del('workcell-test:cluster-probe');
    } finally {
      probe.disconnect();
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    url: `redis+cluster://${ports.map((p) => `127.0.0.1:${p}`).join(',')}`,
    ports,
    async killMasterOf(key) {
      const alive = [...children.entries()].find(
        ([, c]) => c.exitCode === null && c.signalCode === null,
      );
      if (!alive) throw new Error('no cluster node is alive');
      const master = await masterOf(alive[0], key);
      const child = children.get(master);
      if (!child) throw new Error(`no node of this cluster on port ${master}`);
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
      // Until a replica serves the slot, the cluster refuses it.
      const deadline = Date.now() + 30_000;
      for (;;) {
        const asked = [...children.entries()].find(
          ([, c]) => c.exitCode === null && c.signalCode === null,
        );
        if (!asked) throw new Error('no cluster node is alive');
        const served = await masterOf(asked[0], key).catch(() => master);
        if (served !== master && (await allOk([served]))) break;
        if (Date.now() > deadline) throw new Error(`no replica of ${master} was promoted`);
        await sleep(100);
      }
      return master;
    },
    async cutReplicationOf(key) {
      const alive = [...children.entries()].find(
        ([, c]) => c.exitCode === null && c.signalCode === null,
      );
      if (!alive) throw new Error('no cluster node is alive');
      const master = await masterOf(alive[0], key);
      const links = await replicaLinkPorts(master);
      if (links.length === 0) throw new Error(`the master on ${master} has no replica`);
      for (const link of links) dropRule('-I', master, link);
      let lifted = false;
      const lift = (): void => {
        if (lifted) return;
        lifted = true;
        for (const link of links) dropRule('-D', master, link);
      };
      cuts.push(lift);
      return lift;
    },
    waitHealthy: (timeoutMs = 20_000) => healthy(timeoutMs),
    stop,
  };
}
