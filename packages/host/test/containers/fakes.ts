import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, unlinkSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type {
  EgressAttachment,
  EgressGateway,
  EgressIdentity,
} from '../../src/containers/egress.js';
import { EgressListeners } from '../../src/containers/egress-listeners.js';
import { Orchestrator, type OrchestratorSettings } from '../../src/containers/orchestrator.js';
import type {
  ContainerInfo,
  ContainerRuntime,
  ContainerSpec,
  ExecProcess,
} from '../../src/containers/runtime.js';
import { dataDirScope } from '../../src/containers/scope.js';
import { SlotStore, type Slot } from '../../src/containers/slots.js';
import type { WorkspaceSync } from '../../src/containers/workspace-sync.js';
import { MemoryStateStore } from '../../src/state/memory-store.js';
import type { StateStore } from '../../src/state/state-store.js';
import { SetTimeClock } from '../../src/time/clock.js';

export const IMAGE = 'workcell/workspace:test';
export const silent = pino({ level: 'silent' });

interface FakeContainer {
  spec: ContainerSpec;
  info: ContainerInfo;
  agent: HttpServer | null;
}

function listen(server: Server | HttpServer, path: string): Promise<void> {
  if (existsSync(path)) unlinkSync(path);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
}

function close(server: Server | HttpServer | null): Promise<void> {
  if (!server) return Promise.resolve();
  return new Promise((resolve) => server.close(() => resolve()));
}

/**
 * A container engine in memory. A started container's agent is a real HTTP server on the
 * slot's agent socket answering `/health`, so the orchestrator's probes work as with Docker.
 */
export class FakeRuntime implements ContainerRuntime {
  readonly containers = new Map<string, FakeContainer>();
  readonly calls: string[] = [];
  readonly imageIds = new Map<string, string>([[IMAGE, 'sha256:build-1']]);
  /** Makes the next `create` calls fail. */
  failCreates = 0;
  /** Makes started agents report busy. */
  busy = false;

  constructor(private readonly clock: () => number = Date.now) {}

  async create(spec: ContainerSpec): Promise<string> {
    this.calls.push('create');
    if (this.failCreates > 0) {
      this.failCreates -= 1;
      throw new Error('engine refused');
    }
    const id = randomBytes(32).toString('hex');
    this.containers.set(id, {
      spec,
      agent: null,
      info: {
        id,
        name: `workcell-${spec.slotId}`,
        image: spec.image,
        ...(this.imageIds.has(spec.image)
          ? { imageId: this.imageIds.get(spec.image) as string }
          : {}),
        labels: { ...spec.labels },
        running: false,
        paused: false,
        status: 'created',
        exitCode: null,
        oomKilled: false,
        createdAt: new Date(this.clock()),
        startedAt: null,
      },
    });
    return id;
  }

  async start(id: string): Promise<void> {
    this.calls.push(`start:${id}`);
    const c = this.must(id);
    if (c.info.running) return;
    const agent = createHttpServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          status: 'ok',
          busy: this.busy,
          runId: null,
          version: 'fake',
          uptimeMs: 1,
        }),
      );
    });
    await listen(agent, join(c.spec.mounts.socketDir, 'agent.sock'));
    c.agent = agent;
    c.info.running = true;
    c.info.status = 'running';
    c.info.startedAt = new Date(this.clock());
  }

  /** Kills the container (the agent stops answering), as `docker kill` or a dockerd restart does. */
  async kill(id: string): Promise<void> {
    const c = this.must(id);
    await close(c.agent);
    c.agent = null;
    c.info.running = false;
    c.info.status = 'exited';
    c.info.exitCode = 137;
  }

  async stop(id: string): Promise<void> {
    this.calls.push(`stop:${id}`);
    if (this.containers.has(id)) await this.kill(id);
  }

  async pause(id: string): Promise<void> {
    this.calls.push(`pause:${id}`);
    const c = this.must(id);
    c.info.paused = true;
    c.info.running = false;
    c.info.status = 'paused';
  }

  async setCpuShares(id: string, shares: number): Promise<void> {
    this.calls.push(`cpu:${id}:${shares}`);
    this.must(id).spec.cpuShares = shares;
  }

  async unpause(id: string): Promise<void> {
    this.calls.push(`unpause:${id}`);
    const c = this.must(id);
    c.info.paused = false;
    c.info.running = true;
    c.info.status = 'running';
  }

  async remove(id: string): Promise<void> {
    this.calls.push(`remove:${id}`);
    const c = this.containers.get(id);
    if (!c) return;
    await close(c.agent);
    this.containers.delete(id);
  }

  async inspect(id: string): Promise<ContainerInfo | null> {
    const c = this.containers.get(id);
    return c ? { ...c.info, labels: { ...c.info.labels } } : null;
  }

  async list(labels: Record<string, string>): Promise<ContainerInfo[]> {
    return [...this.containers.values()]
      .filter((c) =>
        Object.entries(labels).every(([k, v]) =>
          v === '' ? k in c.info.labels : c.info.labels[k] === v,
        ),
      )
      .map((c) => ({ ...c.info, labels: { ...c.info.labels } }));
  }

  async hasImage(image: string): Promise<boolean> {
    return this.imageIds.has(image);
  }

  async imageId(image: string): Promise<string | null> {
    return this.imageIds.get(image) ?? null;
  }

  async ping(): Promise<void> {}

  /** Commands are not run in memory: exec tests use Docker. */
  async exec(): Promise<ExecProcess> {
    await Promise.resolve();
    throw new Error('the fake runtime runs no commands');
  }

  terminal(): Promise<never> {
    return Promise.reject(new Error('the fake runtime has no terminals'));
  }

  /** Adds a container nobody created through the orchestrator (an orphan, or someone else's). */
  async addForeign(labels: Record<string, string>, running = true): Promise<string> {
    const id = randomBytes(32).toString('hex');
    this.containers.set(id, {
      spec: {
        slotId: 'none',
        image: IMAGE,
        labels,
        mounts: {
          socketDir: '/nonexistent',
          egressDir: '/nonexistent',
          workspace: '/nonexistent',
          claudeConfig: '/nonexistent',
        },
        env: {},
        limits: { memoryMb: 64, cpus: 1, pids: 16, nofile: 1024 },
        runtime: 'runc',
      },
      agent: null,
      info: {
        id,
        name: id.slice(0, 12),
        image: IMAGE,
        labels,
        running,
        paused: false,
        status: running ? 'running' : 'exited',
        exitCode: null,
        oomKilled: false,
        createdAt: new Date(this.clock()),
        startedAt: null,
      },
    });
    return id;
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.containers.values()].map((c) => close(c.agent)));
  }

  private must(id: string): FakeContainer {
    const c = this.containers.get(id);
    if (!c) throw Object.assign(new Error(`no such container ${id}`), { statusCode: 404 });
    return c;
  }
}

/** Egress listeners as real Unix-socket servers (so liveness probes see them), with their identity. */
export class FakeGateway implements EgressGateway {
  readonly open = new Map<string, { server: Server; identity: EgressIdentity }>();
  attaches = 0;

  async attach(socketPath: string, identity: EgressIdentity): Promise<EgressAttachment> {
    this.attaches += 1;
    const server = createServer((s) => s.destroy());
    await listen(server, socketPath);
    const entry = { server, identity };
    this.open.set(socketPath, entry);
    return {
      setIdentity: (next) => {
        entry.identity = next;
      },
      close: async () => {
        if (this.open.get(socketPath) === entry) this.open.delete(socketPath);
        await close(server);
      },
    };
  }

  async close(): Promise<void> {
    await Promise.all([...this.open.values()].map((e) => close(e.server)));
    this.open.clear();
  }
}

/** Records sync-outs (with the files present at that moment) and can be made to fail. */
export class RecordingSync implements WorkspaceSync {
  readonly outs: { workspaceId: string; slotId: string }[] = [];
  failOut = false;
  onSyncOut: ((slot: Slot) => void) | null = null;

  async syncIn(): Promise<void> {}

  async syncOut(_tenant: string, workspaceId: string, slot: Slot): Promise<void> {
    if (this.failOut) throw new Error('object store down');
    this.onSyncOut?.(slot);
    this.outs.push({ workspaceId, slotId: slot.id });
  }
}

/** A settable `now`, starting at the real time; timers run in real time. */
export class TestClock extends SetTimeClock {
  t = Date.now();
  now(): number {
    return this.t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

export interface Rig {
  dataDir: string;
  runtime: FakeRuntime;
  state: StateStore;
  slots: SlotStore;
  gateway: FakeGateway;
  clock: TestClock;
  orchestrator: Orchestrator;
  /** The egress listeners of `orchestrator`'s host. */
  listeners: EgressListeners;
  /** The settings of `orchestrator`'s host (shared by reference: a change applies at once). */
  settings: OrchestratorSettings;
  /** Called after every warm claim attempt of any orchestrator of the rig (a pool's `kick`). */
  readonly onWarmClaim: Set<() => void>;
  /** Another orchestrator (another host) on the same state, engine and data directory. */
  peer(hostId: string): Host;
  close(): Promise<void>;
}

/** One host of a rig: its orchestrator, listeners and gateway. */
export interface Host {
  orchestrator: Orchestrator;
  listeners: EgressListeners;
  gateway: FakeGateway;
  settings: OrchestratorSettings;
}

export function settingsFor(
  hostId: string,
  overrides: Partial<OrchestratorSettings> = {},
): OrchestratorSettings {
  return {
    image: IMAGE,
    imageVersion: '1',
    hostId,
    scopeId: 'unit-scope',
    runtime: 'runc',
    limits: { memoryMb: 256, cpus: 1, pids: 64, nofile: 1024 },
    agentEnv: {},
    startTimeoutMs: 2000,
    probeTimeoutMs: 500,
    ...overrides,
  };
}

/** An orchestrator over the fakes, a memory state store and a scratch data directory. */
export function rig(
  options: { state?: StateStore; settings?: Partial<OrchestratorSettings> } = {},
): Rig {
  const dataDir = mkdtempSync(join(tmpdir(), 'wc-unit-'));
  const clock = new TestClock();
  const runtime = new FakeRuntime(() => clock.now());
  const state = options.state ?? new MemoryStateStore({ now: () => clock.now() });
  const slots = new SlotStore(dataDir);
  const gateways: FakeGateway[] = [];
  const allListeners: EgressListeners[] = [];
  const onWarmClaim = new Set<() => void>();
  const make = (hostId: string, overrides: Partial<OrchestratorSettings> = {}): Host => {
    const gateway = new FakeGateway();
    // Hosts of one rig share its data directory, and so its scope.
    const settings = settingsFor(hostId, { scopeId: dataDirScope(dataDir), ...overrides });
    const listeners = new EgressListeners({ gateway, slots, hostId, logger: silent });
    const orchestrator = new Orchestrator({
      runtime,
      state,
      slots,
      listeners,
      clock,
      logger: silent,
      settings,
      onWarmClaim: () => {
        for (const kick of onWarmClaim) kick();
      },
    });
    gateways.push(gateway);
    allListeners.push(listeners);
    return { orchestrator, listeners, gateway, settings };
  };
  const main = make('host-a', options.settings);
  return {
    dataDir,
    runtime,
    state,
    slots,
    gateway: main.gateway,
    clock,
    orchestrator: main.orchestrator,
    listeners: main.listeners,
    settings: main.settings,
    onWarmClaim,
    peer: (hostId) => make(hostId, options.settings),
    async close() {
      for (const l of allListeners) await l.close();
      for (const g of gateways) await g.close();
      await runtime.closeAll();
      await state.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
