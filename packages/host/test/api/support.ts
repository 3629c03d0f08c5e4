import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkcellError } from '@workcell/protocol';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import {
  AgentSettingsPolicy,
  AgentSettingsService,
  AgentSettingsStore,
  type AgentSettingsPolicyOptions,
} from '../../src/agent-settings/index.js';
import { buildApi } from '../../src/api/app.js';
import type { ApiServices } from '../../src/api/context.js';
import { TenantRateLimiter } from '../../src/auth/rate-limit.js';
import { TicketService } from '../../src/auth/tickets.js';
import { TokenAuthenticator } from '../../src/auth/tokens.js';
import { Catalog } from '../../src/catalog/catalog.js';
import type { ContainerInfo, ContainerRuntime } from '../../src/containers/runtime.js';
import { AuditTrail } from '../../src/egress/gateway.js';
import type { PolicyStore } from '../../src/egress/policy-store.js';
import { ExecuteService } from '../../src/execute/execute-service.js';
import { RunEventLog } from '../../src/execute/run-events.js';
import { Workspaces } from '../../src/workspace/hold.js';
import { WorkspaceRemoval } from '../../src/workspace/workspace-removal.js';
import { StoreFilesService } from '../../src/files/store-files-service.js';
import { ArchiveService } from '../../src/archive/archive-service.js';
import { HealthChecks } from '../../src/metrics/health.js';
import type { DependencyWatch } from '../../src/dependencies/watch.js';
import { WorkcellMetrics } from '../../src/metrics/metrics.js';
import { SecretCipher } from '../../src/secrets/cipher.js';
import { SecretStore } from '../../src/secrets/secret-store.js';
import { MemoryStateStore } from '../../src/state/memory-store.js';
import { Snapshots } from '../../src/snapshots/snapshots.js';
import { ForkService } from '../../src/fork/fork-service.js';
import { DirectoryObjectStore } from '../../src/storage/directory-store.js';
import { systemClock, type Clock } from '../../src/time/clock.js';
import { ApprovalService } from '../../src/approvals/index.js';
import { LocalControlBus } from '../../src/control/control-bus.js';
import { UsageService } from '../../src/usage/usage-service.js';
import { WebhookEndpointStore } from '../../src/webhooks/endpoint-store.js';
import { WebhookRegistry } from '../../src/webhooks/registry.js';
import type { WebhookResolver } from '../../src/webhooks/url-policy.js';
import { FakeOrchestrator, FakeSync } from '../execute/harness.js';

export const TOKEN_A = 'token-a-0123456789abcdef';
export const TOKEN_B = 'token-b-0123456789abcdef';
export const ADMIN = 'token-admin-0123456789ab';
/** The secrets key of the harness (base64 of 32 bytes). */
export const SECRETS_KEY = Buffer.alloc(32, 7).toString('base64');

/** A container engine that knows a fixed list of containers. */
export class FakeRuntime {
  containers: ContainerInfo[] = [];
  down = false;
  async list(): Promise<ContainerInfo[]> {
    return this.containers;
  }
  async ping(): Promise<void> {
    if (this.down) throw new Error('connect ENOENT /var/run/docker.sock');
  }
  async hasImage(): Promise<boolean> {
    return true;
  }
}

export interface ApiHarness {
  app: FastifyInstance;
  state: MemoryStateStore;
  catalog: Catalog;
  runtime: FakeRuntime;
  orchestrator: FakeOrchestrator;
  execute: ExecuteService;
  metrics: WorkcellMetrics;
  secrets: SecretStore;
  /** The object store's directory. */
  dataDir: string;
  /** Every log line the API wrote. */
  logs: string[];
  /** Creates a workspace and conversation for tenant A. */
  conversation(): Promise<{ workspaceId: string; conversationId: string }>;
  close(): Promise<void>;
}

/**
 * The real API (routes, auth, rate limit, SSE, OpenAPI, metrics) over real catalog, state
 * store and execute service, with a fake container engine and a scripted agent: everything but
 * Docker, fast enough for unit tests.
 */
export async function apiHarness(
  options: {
    rateLimitPerMinute?: number;
    corsOrigins?: string[];
    secretsKey?: string | null;
    agent?: Partial<AgentSettingsPolicyOptions>;
    /** DNS for webhook hosts; default: no name resolves. */
    webhookResolver?: WebhookResolver;
    /** The clock of ticket expiry; default the system clock. */
    clock?: Clock;
    /** How long a ticket lasts, ms; default 60 s. */
    ticketTtlMs?: number;
    /** Tickets per tenant per TTL window; default the host's. */
    maxTicketsPerTenant?: number;
    /** Refuses new work while a store is down; default never. */
    dependencies?: Pick<DependencyWatch, 'assertAvailable'>;
  } = {},
): Promise<ApiHarness> {
  const dir = mkdtempSync(join(tmpdir(), 'wc-api-'));
  const logs: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void logs.push(line) });
  const objects = new DirectoryObjectStore({ root: dir });
  const state = new MemoryStateStore();
  const catalog = new Catalog(objects);
  const events = new RunEventLog(state, { logger, pollMs: 20, finishedCheckMs: 50 });
  const orchestrator = new FakeOrchestrator();
  const runtime = new FakeRuntime();
  const metrics = new WorkcellMetrics(() => state.listContainers(), { defaultMetrics: false });
  const secretsKey = options.secretsKey === undefined ? SECRETS_KEY : options.secretsKey;
  const secrets = new SecretStore(
    secretsKey ? new SecretCipher(secretsKey) : null,
    objects,
    logger,
    {
      maxPerScope: 5,
    },
  );
  const agentSettings = new AgentSettingsService({
    store: new AgentSettingsStore(objects),
    policy: new AgentSettingsPolicy({
      defaults: {},
      modelsAllowed: null,
      allowCustomSystemPrompt: false,
      ...options.agent,
    }),
  });
  const execute = new ExecuteService({
    agentSettings,
    catalog,
    workspaces: new Workspaces({
      containers: orchestrator,
      sync: new FakeSync(),
      state,
      clock: systemClock,
      logger,
      observer: metrics,
      settings: { lockTtlMs: 30_000 },
    }),
    state,
    events,
    observer: metrics,
    logger,
    settings: {
      runTimeoutMs: 60_000,
      maxPromptBytes: 1024,
      maxImageBytes: 2048,
      eventBufferTtlMs: 60_000,
      interruptGraceMs: 200,
    },
  });
  const approvals = new ApprovalService({
    state,
    catalog,
    bus: new LocalControlBus('test-host', logger),
    clock: systemClock,
    logger,
    hostId: 'test-host',
    settings: { timeoutMs: 60_000, recordTtlMs: 120_000 },
  });
  const snapshots = new Snapshots(objects, {
    keep: 100,
    clock: systemClock,
    logger,
    withWorkspaceLock: (_wid, work) => work(),
  });
  const services: ApiServices = {
    approvals,
    auth: new TokenAuthenticator(
      new Map([
        [TOKEN_A, 'tenant-a'],
        [TOKEN_B, 'tenant-b'],
      ]),
      new Set([ADMIN]),
    ),
    rateLimit: new TenantRateLimiter(state, options.rateLimitPerMinute ?? 0, logger),
    tickets: new TicketService({
      state,
      clock: options.clock ?? systemClock,
      ttlMs: options.ticketTtlMs ?? 60_000,
      ...(options.maxTicketsPerTenant === undefined
        ? {}
        : { maxPerTenant: options.maxTicketsPerTenant }),
    }),
    catalog,
    containers: { assigned: async () => null },
    terminals: {
      open: () => Promise.reject(new WorkcellError('shutting_down', 'no terminals here')),
    },
    workspaces: new WorkspaceRemoval({
      catalog,
      containers: { assigned: async () => null },
      removal: { removeContainer: async () => undefined },
      state,
      clock: systemClock,
      logger,
      hostId: 'test-host',
    }),
    execute,
    // Commands need a real container: the exec route is tested on Docker (test/api/exec.test.ts).
    snapshots: snapshotsApi(snapshots),
    forks: new ForkService({
      store: objects,
      catalog,
      snapshots,
      secrets,
      withWorkspaceLock: (_wid, work) => work(),
      filesChanged: () => Promise.resolve(),
      clock: systemClock,
      logger,
    }),
    exec: {
      start: () => Promise.reject(new Error('exec is not wired in the API unit tests')),
    },
    agentSettings,
    usage: new UsageService(catalog),
    events,
    files: new StoreFilesService(objects, state, {
      maxFileBytes: 1024 * 1024,
      hostId: 'test-host',
      clock: systemClock,
      logger,
    }),
    archives: new ArchiveService(objects, {
      limits: {
        maxBytes: 1024 * 1024,
        maxUnpackedBytes: 4 * 1024 * 1024,
        maxEntries: 1000,
        maxRatio: 100,
        maxFileBytes: 1024 * 1024,
        maxConcurrent: 2,
      },
      stagingDir: join(dir, 'staging'),
      clock: systemClock,
      logger,
      withLease: (_workspaceId, work) => work(),
    }),
    egress: { policies: {} as PolicyStore, audit: new AuditTrail() },
    // Egress changes are heard by this host alone here.
    control: { egressChanged: async () => undefined },
    secrets,
    webhooks: new WebhookRegistry({
      endpoints: new WebhookEndpointStore(objects),
      policy: {
        allowPrivate: false,
        resolve:
          options.webhookResolver ??
          (async (host) => {
            throw new Error(`${host} does not resolve here`);
          }),
        localAddresses: () => new Set(),
        resolveTimeoutMs: 1_000,
      },
      clock: systemClock,
    }),
    health: new HealthChecks({
      runtime: runtime as unknown as ContainerRuntime,
      state,
      objects,
      image: 'workcell/workspace:test',
      accepting: () => execute.isAccepting,
    }),
    ...(options.dependencies ? { dependencies: options.dependencies } : {}),
    metrics,
    state,
    runtime: runtime as unknown as ContainerRuntime,
    logger,
    limits: {
      maxFileBytes: 1024 * 1024,
      maxJsonBytes: 64 * 1024,
      maxExecOutputBytes: 1024,
      maxArchiveBytes: 1024 * 1024,
    },
    version: '0.0.0-test',
    ...(options.corsOrigins ? { corsOrigins: options.corsOrigins } : {}),
  };
  const app = await buildApi(services);
  await app.ready();
  return {
    app,
    state,
    catalog,
    runtime,
    orchestrator,
    execute,
    metrics,
    secrets,
    dataDir: dir,
    logs,
    async conversation() {
      const ws = await catalog.createWorkspace('tenant-a', 'w');
      const c = await catalog.createConversation('tenant-a', ws.id, 'c');
      return { workspaceId: ws.id, conversationId: c.id };
    },
    async close() {
      await execute.shutdown(1_000);
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const bearer = (token: string): Record<string, string> => ({
  authorization: `Bearer ${token}`,
});

/** The API's view of `snapshots`: no container to bring up to date after a restore. */
function snapshotsApi(snapshots: Snapshots) {
  return {
    page: snapshots.page.bind(snapshots),
    take: snapshots.take.bind(snapshots),
    restore: (tenant: string, workspaceId: string, snapshotId: string) =>
      snapshots.restore(tenant, workspaceId, snapshotId, () => Promise.resolve()),
  };
}
