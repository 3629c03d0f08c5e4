import { WorkcellApiError } from '@workcell/client';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startMockModel, type MockModel } from '@workcell/mock-model';
import {
  createLogger,
  createWorkcell,
  DockerRuntime,
  LABELS,
  resolveConfig,
  SetTimeClock,
  type ConfigInput,
  type ContainerInfo,
  type ContainerRuntime,
  type ContainerSpec,
  type ExecProcess,
  type ExecSpec,
  type TerminalOptions,
  type TerminalSession,
  type Workcell,
} from '@workcell/host';
import type {
  EgressAttachment,
  EgressGateway,
  EgressIdentity,
} from '../../packages/host/src/containers/egress.js';
import { docker, removeDataDir } from '../support/host.js';
import { apiClient } from '../support/client.js';

/** Wraps a runtime to count and observe calls (a test's instrumented Docker). */
export class CountingRuntime implements ContainerRuntime {
  creates = 0;
  readonly removed: string[] = [];
  /** Called before each removal, with the container still present. */
  beforeRemove: ((id: string) => Promise<void>) | null = null;

  constructor(readonly inner: ContainerRuntime) {}

  async create(spec: ContainerSpec): Promise<string> {
    this.creates += 1;
    return this.inner.create(spec);
  }
  start(id: string): Promise<void> {
    return this.inner.start(id);
  }
  stop(id: string, graceSeconds?: number): Promise<void> {
    return this.inner.stop(id, graceSeconds);
  }
  pause(id: string): Promise<void> {
    return this.inner.pause(id);
  }
  unpause(id: string): Promise<void> {
    return this.inner.unpause(id);
  }
  setCpuShares(id: string, shares: number): Promise<void> {
    return this.inner.setCpuShares(id, shares);
  }
  async remove(id: string): Promise<void> {
    if (this.beforeRemove) await this.beforeRemove(id);
    this.removed.push(id);
    return this.inner.remove(id);
  }
  inspect(id: string): Promise<ContainerInfo | null> {
    return this.inner.inspect(id);
  }
  list(labels: Record<string, string>): Promise<ContainerInfo[]> {
    return this.inner.list(labels);
  }
  hasImage(image: string): Promise<boolean> {
    return this.inner.hasImage(image);
  }
  imageId(image: string): Promise<string | null> {
    return this.inner.imageId(image);
  }
  ping(): Promise<void> {
    return this.inner.ping();
  }
  exec(id: string, spec: ExecSpec): Promise<ExecProcess> {
    return this.inner.exec(id, spec);
  }

  terminal(id: string, options: TerminalOptions): Promise<TerminalSession> {
    return this.inner.terminal(id, options);
  }
}

/** The real time plus an offset a test moves forward (GC ages without sleeping). */
export class OffsetClock extends SetTimeClock {
  offsetMs = 0;
  now(): number {
    return Date.now() + this.offsetMs;
  }
}

/** Egress listeners as plain Unix-socket servers, for orchestrators built without the proxy. */
export class SocketGateway implements EgressGateway {
  private readonly servers = new Set<Server>();

  async attach(socketPath: string, identity: EgressIdentity): Promise<EgressAttachment> {
    void identity;
    const server = createServer((s) => s.destroy());
    rmSync(socketPath, { force: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => resolve());
    });
    this.servers.add(server);
    return {
      setIdentity: () => undefined,
      close: () =>
        new Promise<void>((resolve) => {
          this.servers.delete(server);
          server.close(() => resolve());
        }),
    };
  }

  async close(): Promise<void> {
    await Promise.all(
      [...this.servers].map((s) => new Promise<void>((resolve) => s.close(() => resolve()))),
    );
    this.servers.clear();
  }
}

/** Ids of every container (any state) labelled with the data directory `dataDir`. */
export async function containersOf(dataDir: string): Promise<string[]> {
  const out = await docker(
    'ps',
    '-aq',
    '--no-trunc',
    '--filter',
    `label=${LABELS.dataDir}=${dataDir}`,
  );
  return out.split('\n').filter(Boolean);
}

/** Removes every container labelled with `dataDir`. */
export async function removeContainersOf(dataDir: string): Promise<void> {
  for (const id of await containersOf(dataDir)) await docker('rm', '-f', id).catch(() => '');
}

/** Polls `check` until it answers true, or fails after `timeoutMs` naming `what`. */
export async function waitFor(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs = 20_000,
  intervalMs = 100,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // Not there yet (a service restarting): poll again.
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

export function newDataDir(): string {
  return mkdtempSync(join(tmpdir(), 'workcell-orch-'));
}

export interface WorkspaceView {
  id: string;
  container: { id: string; state: string } | null;
}

/** HTTP helpers for a host at `url` with `token`. */
export function client(url: string, token: string) {
  const base = apiClient(url, token);
  const { wc } = base;
  return {
    ...base,
    /** Posts a message without waiting for the run (202). */
    async post(conversationId: string, content: string): Promise<string> {
      return (await wc.conversations.start(conversationId, content)).runId;
    },
    workspace(workspaceId: string): Promise<WorkspaceView> {
      return wc.workspaces.get(workspaceId);
    },
    async file(workspaceId: string, path: string): Promise<string | null> {
      try {
        return await wc.files.text(workspaceId, path);
      } catch (err) {
        if (err instanceof WorkcellApiError && err.status === 404) return null;
        throw err;
      }
    },
    async fileList(workspaceId: string): Promise<string[]> {
      return (await wc.files.list(workspaceId)).map((f) => f.path).sort();
    },
  };
}

export type Client = ReturnType<typeof client>;

export interface OrchestratorTestHost extends Client {
  workcell: Workcell;
  runtime: CountingRuntime;
  clock: OffsetClock;
  url: string;
  dataDir: string;
  mock: MockModel;
  close(): Promise<void>;
}

/**
 * A real host in this process (real Docker, the workspace image, the proxy, a mock model), with
 * a counting runtime and a movable clock. GC's timer is effectively off unless the test sets
 * `gcIntervalMs`; tests run passes with `workcell.gc.runOnce()`. `close()` removes every
 * container of its data directory and, unless `keepDataDir`, the directory.
 */
export async function startHost(
  overrides: Partial<ConfigInput> = {},
  options: { dataDir?: string; keepDataDir?: boolean } = {},
): Promise<OrchestratorTestHost> {
  const dataDir = options.dataDir ?? newDataDir();
  const token = `tok_${randomBytes(16).toString('hex')}`;
  const mock = await startMockModel();
  const logger = createLogger(process.env.WORKCELL_TEST_LOGS ? 'debug' : 'warn', {
    write: (line: string) => {
      if (process.env.WORKCELL_TEST_LOGS) process.stderr.write(line);
    },
  });
  const config = resolveConfig({
    port: 0,
    host: '127.0.0.1',
    dataDir,
    apiTokens: `${token}=t${randomBytes(4).toString('hex')}`,
    anthropicUpstream: mock.url,
    anthropicApiKey: `sk-ant-test-${randomBytes(12).toString('hex')}`,
    warmPoolSize: 0,
    hostId: `orch-${randomBytes(4).toString('hex')}`,
    containerMemoryMb: 512,
    gcIntervalMs: 3_600_000,
    // A checkout testing its own build of the workspace image names it here.
    ...(process.env.WORKCELL_IMAGE ? { image: process.env.WORKCELL_IMAGE } : {}),
    ...overrides,
  });
  const runtime = new CountingRuntime(new DockerRuntime(logger));
  const clock = new OffsetClock();
  const workcell = await createWorkcell(config, { logger, runtime, clock });
  const url = await workcell.listen();
  return {
    ...client(url, token),
    workcell,
    runtime,
    clock,
    url,
    dataDir,
    mock,
    async close() {
      await workcell.close(2_000).catch(() => undefined);
      await removeContainersOf(dataDir);
      await mock.close();
      if (!options.keepDataDir) await removeDataDir(dataDir);
    },
  };
}

export { dataOf } from '../support/client.js';
