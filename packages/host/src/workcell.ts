import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { startMockModel, type MockModel } from '@workcell/mock-model';
import {
  CredentialProxy,
  parseEgressPatterns,
  parseCidrList,
  type AuditRecord,
} from '@workcell/proxy';
import type { FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import { buildApi } from './api/app.js';
import { consoleDistDir, loadConsoleAssets } from './api/console.js';
import { TenantRateLimiter } from './auth/rate-limit.js';
import { TokenAuthenticator } from './auth/tokens.js';
import { Catalog } from './catalog/catalog.js';
import type { ResolvedConfig } from './config/load.js';
import { DockerRuntime } from './containers/docker-runtime.js';
import { GarbageCollector } from './containers/gc.js';
import { Orchestrator, systemClock, type Clock } from './containers/orchestrator.js';
import { reconcile, type ReconcileReport } from './containers/reconcile.js';
import type { ContainerRuntime } from './containers/runtime.js';
import { SlotStore } from './containers/slots.js';
import { WarmPool } from './containers/warm-pool.js';
import { AuditTrail, ProxyEgressGateway } from './egress/gateway.js';
import { PolicyStore } from './egress/policy-store.js';
import { ExecuteService } from './execute/execute-service.js';
import { RunEventLog } from './execute/run-events.js';
import { ObjectStoreWorkspaceSync } from './execute/object-store-sync.js';
import { StoreFilesService } from './files/store-files-service.js';
import { HealthChecks } from './metrics/health.js';
import { WorkcellMetrics } from './metrics/metrics.js';
import { createStateStore } from './state/index.js';
import type { StateStore } from './state/state-store.js';
import { createObjectStore } from './storage/index.js';
import type { ObjectStore } from './storage/object-store.js';

/** Log paths that may carry secrets; pino replaces them before anything is written. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'headers.authorization',
  'headers["x-api-key"]',
  'apiKey',
  'secretAccessKey',
  'sessionToken',
  'token',
];

export function createLogger(
  level: ResolvedConfig['logLevel'],
  destination?: pino.DestinationStream,
): Logger {
  return pino(
    { name: 'workcell', level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } },
    destination,
  );
}

export interface WorkcellOptions {
  logger?: Logger;
  /** Run the built-in mock model in-process and send model traffic to it. */
  mockModel?: boolean;
  clock?: Clock;
  /** Replace the container runtime (a Kubernetes runtime, or a test's instrumented Docker). */
  runtime?: ContainerRuntime;
  /** Replace the object store built from the configuration (a test's instrumented S3 store). */
  objects?: ObjectStore;
}

/** A wired Workcell host: every service built once, by constructor injection. */
export interface Workcell {
  config: ResolvedConfig;
  logger: Logger;
  api: FastifyInstance;
  state: StateStore;
  objects: ObjectStore;
  runtime: ContainerRuntime;
  orchestrator: Orchestrator;
  pool: WarmPool;
  gc: GarbageCollector;
  /** Re-attaches this host's containers and removes the rest; `listen()` runs it before serving. */
  reconcile(): Promise<ReconcileReport>;
  execute: ExecuteService;
  catalog: Catalog;
  audit: AuditTrail;
  policies: PolicyStore;
  mockModel: MockModel | null;
  metrics: WorkcellMetrics;
  health: HealthChecks;
  /** Tokens generated at start when none were configured (token -> tenant). */
  generatedToken: string | null;
  /** Starts listening; answers the base URL. */
  listen(): Promise<string>;
  /**
   * Graceful shutdown: stops accepting runs, lets runs in progress finish up to `deadlineMs`
   * (default `shutdownTimeoutMs`; later ones are stopped and synced out), ends open event
   * streams, then closes everything.
   */
  close(deadlineMs?: number): Promise<void>;
}

/** The composition root: builds every service of the host from one configuration. */
export async function createWorkcell(
  config: ResolvedConfig,
  options: WorkcellOptions = {},
): Promise<Workcell> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const clock = options.clock ?? systemClock;
  const dataDir = resolve(config.dataDir);
  mkdirSync(dataDir, { recursive: true });

  let mockModel: MockModel | null = null;
  let anthropicUpstream = config.anthropicUpstream;
  let bedrockUpstream = config.bedrockUpstream;
  if (options.mockModel) {
    mockModel = await startMockModel({ logger: logger.child({ component: 'mock-model' }) });
    anthropicUpstream = mockModel.url;
    bedrockUpstream = mockModel.url;
  }

  const objects =
    options.objects ??
    createObjectStore({
      dataDir,
      s3: config.s3Bucket
        ? {
            bucket: config.s3Bucket,
            endpoint: config.s3Endpoint,
            prefix: config.s3Prefix,
            region: config.awsRegion,
          }
        : undefined,
      logger,
    });
  const state = createStateStore({ redisUrl: config.redisUrl, logger });
  const runtime = options.runtime ?? new DockerRuntime(logger.child({ component: 'docker' }));
  const metrics = new WorkcellMetrics(() => state.listContainers());

  const audit = new AuditTrail();
  const policies = new PolicyStore(
    {
      allow: parseEgressPatterns(config.egressAllow, 'WORKCELL_EGRESS_ALLOW'),
      deny: parseEgressPatterns(config.egressDeny, 'WORKCELL_EGRESS_DENY'),
      allowPrivate: parseCidrList(config.egressAllowPrivate, 'WORKCELL_EGRESS_ALLOW_PRIVATE'),
    },
    objects,
    logger.child({ component: 'egress-policy' }),
  );
  const auditLogger = logger.child({ component: 'egress-audit' });
  const proxy = new CredentialProxy({
    anthropic: {
      upstream: new URL(anthropicUpstream),
      // The built-in mock model takes any key; an offline demo has none to give.
      apiKey: () => config.anthropicApiKey ?? (mockModel ? 'mock-model-key' : undefined),
    },
    bedrock: {
      upstream: new URL(bedrockUpstream),
      region: config.awsRegion,
      credentials: fromNodeProviderChain(),
      maxBodyBytes: 20 * 1024 * 1024,
    },
    audit: (record: AuditRecord) => {
      audit.record(record);
      metrics.proxyRequest(record.decision);
      auditLogger.info({ audit: record }, 'egress');
    },
    logger: logger.child({ component: 'proxy' }),
  });
  const gateway = new ProxyEgressGateway(proxy, policies);

  const slots = new SlotStore(dataDir);
  const startTimeoutMs = 30_000;
  /** The run lease's TTL; ExecuteService renews it every third of this while a run goes on. */
  const runLeaseTtlMs = 30_000;
  const orchestrator = new Orchestrator({
    onSlotRemoved: (slotId) => sync.forget(slotId),
    runtime,
    state,
    slots,
    gateway,
    clock,
    logger: logger.child({ component: 'orchestrator' }),
    settings: {
      image: config.image,
      imageVersion: config.version,
      hostId: config.hostId,
      runtime: config.runtime,
      limits: {
        memoryMb: config.containerMemoryMb,
        cpus: config.containerCpus,
        pids: config.containerPids,
      },
      agentEnv: {
        WORKCELL_MODEL_PROVIDER: config.modelProvider,
        AWS_REGION: config.awsRegion,
      },
      startTimeoutMs,
    },
  });

  const catalog = new Catalog(objects);
  const events = new RunEventLog(state, { logger: logger.child({ component: 'run-events' }) });
  const sync = new ObjectStoreWorkspaceSync(objects, {
    maxFileBytes: config.maxFileBytes,
    logger: logger.child({ component: 'sync' }),
    observe: metrics.synced,
  });
  const files = new StoreFilesService(objects, state, {
    maxFileBytes: config.maxFileBytes,
    afterChange: async (tenant, workspaceId) => {
      const record = await orchestrator.assigned(workspaceId);
      if (record && (record.state === 'assigned' || record.state === 'idle')) {
        await sync.syncIn(tenant, workspaceId, orchestrator.slotOf(record));
      }
    },
  });
  const execute = new ExecuteService({
    catalog,
    orchestrator,
    state,
    events,
    sync,
    observer: metrics,
    logger: logger.child({ component: 'execute' }),
    settings: {
      runTimeoutMs: config.runTimeoutMs,
      maxPromptBytes: config.maxPromptBytes,
      leaseTtlMs: runLeaseTtlMs,
      eventBufferTtlMs: 3_600_000,
    },
  });

  const pool = new WarmPool({
    orchestrator,
    state,
    runtime,
    logger: logger.child({ component: 'warm-pool' }),
    settings: {
      size: config.warmPoolSize,
      intervalMs: 5_000,
      parallelCreates: 2,
      leaseTtlMs: 2 * startTimeoutMs,
    },
  });
  const gc = new GarbageCollector({
    orchestrator,
    state,
    runtime,
    sync,
    logger: logger.child({ component: 'gc' }),
    settings: {
      idleTimeoutMs: config.idleTimeoutMs,
      maxLifetimeMs: config.maxLifetimeMs,
      intervalMs: config.gcIntervalMs,
      leaseTtlMs: 60_000,
      runLeaseTtlMs,
      graceMs: startTimeoutMs + 10_000,
    },
  });
  const reconcileContainers = (): Promise<ReconcileReport> =>
    reconcile({
      orchestrator,
      state,
      runtime,
      sync,
      logger: logger.child({ component: 'reconcile' }),
      runLeaseTtlMs,
      graceMs: 10_000,
    });

  let generatedToken: string | null = null;
  let tokens = config.apiTokens;
  if (!tokens || tokens.size === 0) {
    generatedToken = `wc_${randomBytes(24).toString('base64url')}`;
    tokens = new Map([[generatedToken, 'local']]);
  }
  const auth = new TokenAuthenticator(tokens, config.adminTokens);

  const health = new HealthChecks({
    runtime,
    state,
    objects,
    image: config.image,
    accepting: () => execute.isAccepting,
  });

  const api = await buildApi({
    auth,
    catalog,
    orchestrator,
    execute,
    events,
    files,
    egress: { policies, audit },
    health,
    metrics,
    rateLimit: new TenantRateLimiter(
      state,
      config.rateLimitPerMinute,
      logger.child({ component: 'rate-limit' }),
    ),
    state,
    runtime,
    logger: logger.child({ component: 'api' }),
    limits: { maxFileBytes: config.maxFileBytes, maxJsonBytes: config.maxPromptBytes + 64 * 1024 },
    version: config.version,
    console: await loadConsoleAssets(consoleDistDir()),
  });

  return {
    config,
    logger,
    api,
    state,
    objects,
    runtime,
    orchestrator,
    pool,
    gc,
    reconcile: reconcileContainers,
    execute,
    catalog,
    audit,
    policies,
    mockModel,
    metrics,
    health,
    generatedToken,
    async listen() {
      await reconcileContainers().catch((err: unknown) => {
        logger.error({ err: String(err) }, 'reconcile failed; serving anyway (GC cleans up later)');
      });
      pool.start();
      gc.start();
      return api.listen({ port: config.port, host: config.host });
    },
    async close(deadlineMs = config.shutdownTimeoutMs) {
      await execute.shutdown(deadlineMs);
      await api.close();
      await pool.stop();
      await gc.stop();
      await orchestrator.close();
      await gateway.close();
      await state.close();
      await objects.close();
      await mockModel?.close();
    },
  };
}
