import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { startMockModel, type MockModel } from '@workcell/mock-model';
import {
  AGENT_MAX_BODY_ENV,
  AGENT_READY_ENV,
  maxRequestBytes,
  type RunOptions,
} from '@workcell/protocol';
import {
  CredentialProxy,
  parseEgressPatterns,
  parseAnthropicOperations,
  parseCidrList,
  type AuditRecord,
} from '@workcell/proxy';
import { CONTAINER_PATHS } from '@workcell/protocol';
import type { FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import {
  AgentSettingsPolicy,
  AgentSettingsService,
  toRunOptions,
  AgentSettingsStore,
} from './agent-settings/index.js';
import { buildApi } from './api/app.js';
import { consoleDistDir, loadConsoleAssets } from './api/console.js';
import { TenantRateLimiter } from './auth/rate-limit.js';
import { TicketService } from './auth/tickets.js';
import { TokenAuthenticator } from './auth/tokens.js';
import { Catalog } from './catalog/catalog.js';
import type { ResolvedConfig } from './config/load.js';
import { splitList } from './config/schema.js';
import { HostCapacity } from './containers/capacity.js';
import { DockerRuntime } from './containers/docker-runtime.js';
import { GarbageCollector } from './containers/gc.js';
import { EgressListeners } from './containers/egress-listeners.js';
import { Orchestrator } from './containers/orchestrator.js';
import { reconcile, type ReconcileReport } from './containers/reconcile.js';
import type { ContainerRuntime } from './containers/runtime.js';
import { dataDirScope } from './containers/scope.js';
import { LoopbackVolumes, PlainVolumes } from './containers/slot-volume.js';
import { SlotStore } from './containers/slots.js';
import { TerminalActivity } from './containers/terminal-activity.js';
import { WarmPool } from './containers/warm-pool.js';
import { LocalControlBus, RedisControlBus, type ControlBus } from './control/control-bus.js';
import { CrossHostControl } from './control/cross-host.js';
import { AuditTrail, ProxyEgressGateway } from './egress/gateway.js';
import { PolicyStore } from './egress/policy-store.js';
import { ExecService } from './exec/exec-service.js';
import { ExecuteService } from './execute/execute-service.js';
import { RunEventLog } from './execute/run-events.js';
import { ObjectStoreWorkspaceSync } from './execute/object-store-sync.js';
import { WorkspaceRemoval } from './execute/workspace-removal.js';
import { StoreFilesService, withWriteLease } from './files/store-files-service.js';
import { ArchiveService } from './archive/archive-service.js';
import { HealthChecks } from './metrics/health.js';
import { WorkcellMetrics } from './metrics/metrics.js';
import {
  parseWebhookUrl,
  systemLocalAddresses,
  systemWebhookResolver,
  WebhookDispatcher,
  WebhookEndpointStore,
  WebhookPublisher,
  WebhookRegistry,
  type AddressPolicy,
  type WebhookResolver,
} from './webhooks/index.js';
import { SecretCipher } from './secrets/cipher.js';
import { SecretStore } from './secrets/secret-store.js';
import { containerTrustEnv, loadInterception } from './secrets/trust.js';
import { createStateStore } from './state/index.js';
import type { ContainerRecord, StateStore } from './state/state-store.js';
import { createObjectStore } from './storage/index.js';
import { s3SettingsFrom } from './storage/create-store.js';
import type { ObjectStore } from './storage/object-store.js';
import { TerminalService } from './terminal/terminal-service.js';
import { systemClock, type Clock } from './time/clock.js';
import { UsageService } from './usage/usage-service.js';

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

/**
 * The non-secret environment of every agent: the model provider and region, and the agent's
 * body limit, the same as the API's for one message (`WORKCELL_MAX_PROMPT_BYTES`).
 */
/** The largest message: its text and its images, base64 (4 characters for every 3 bytes). */
export function messageBytes(
  config: Pick<ResolvedConfig, 'maxPromptBytes' | 'maxImageBytes'>,
): number {
  return config.maxPromptBytes + Math.ceil(config.maxImageBytes / 3) * 4;
}

export function agentEnvironment(
  config: Pick<
    ResolvedConfig,
    | 'modelProvider'
    | 'awsRegion'
    | 'maxPromptBytes'
    | 'maxImageBytes'
    | 'agentPrewarm'
    | 'agentReadyIdleMs'
  >,
): Record<string, string> {
  return {
    WORKCELL_MODEL_PROVIDER: config.modelProvider,
    AWS_REGION: config.awsRegion,
    [AGENT_MAX_BODY_ENV]: String(maxRequestBytes(messageBytes(config))),
    [AGENT_READY_ENV.enabled]: String(config.agentPrewarm),
    [AGENT_READY_ENV.idleMs]: String(config.agentReadyIdleMs),
  };
}

/** What a warm container's agent starts Claude Code for: the operator's default run options. */
export function warmAgentEnvironment(defaults: RunOptions): Record<string, string> {
  return { [AGENT_READY_ENV.options]: JSON.stringify(defaults) };
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
  /** Replace DNS for webhook hosts (a test's rebinding resolver). */
  webhookResolver?: WebhookResolver;
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
  /** The egress listeners this host holds, one per container it serves. */
  listeners: EgressListeners;
  slots: SlotStore;
  clock: Clock;
  pool: WarmPool;
  gc: GarbageCollector;
  /** Re-attaches this host's containers and removes the rest; `listen()` runs it before serving. */
  reconcile(): Promise<ReconcileReport>;
  execute: ExecuteService;
  /** Commands run in workspace containers (`POST /v1/workspaces/:wid/exec`). */
  exec: ExecService;
  /** Interactive shells in workspace containers. */
  terminals: TerminalService;
  catalog: Catalog;
  audit: AuditTrail;
  policies: PolicyStore;
  secrets: SecretStore;
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
      s3: s3SettingsFrom(config),
      logger,
    });
  const state = createStateStore({ redisUrl: config.redisUrl, logger });
  const runtime = options.runtime ?? new DockerRuntime(logger.child({ component: 'docker' }));
  // This host's containers only (their slots are in its data directory): each host is scraped
  // on its own.
  /** This host's containers: those whose slot is in its data directory. */
  const ownContainers = async (): Promise<ContainerRecord[]> =>
    (await state.listContainers()).filter((r) => slots.exists(r.slotId));
  const metrics = new WorkcellMetrics(ownContainers, {
    // The orchestrator is built below; the gauge is read only when scraped.
    readyAgents: async () => orchestrator.readyAgents(await ownContainers()),
  });

  const audit = new AuditTrail();
  const agentPolicy = new AgentSettingsPolicy({
    defaults: {
      ...config.agentDefaults,
      ...(config.model ? { model: config.model } : {}),
    },
    modelsAllowed: config.modelsAllowed ?? null,
    allowCustomSystemPrompt: config.agentCustomSystemPrompt,
  });
  const agentSettingsStore = new AgentSettingsStore(objects);
  // Set once the policy store exists: a settings change reloads the workspace's egress policy.
  let reloadEgress = async (_tenant: string, _workspaceId: string): Promise<void> => undefined;
  const agentSettings = new AgentSettingsService({
    store: agentSettingsStore,
    policy: agentPolicy,
    changed: (tenant, workspaceId) => reloadEgress(tenant, workspaceId),
  });
  const policies = new PolicyStore(
    {
      allow: parseEgressPatterns(config.egressAllow, 'WORKCELL_EGRESS_ALLOW'),
      deny: parseEgressPatterns(config.egressDeny, 'WORKCELL_EGRESS_DENY'),
      allowPrivate: parseCidrList(config.egressAllowPrivate, 'WORKCELL_EGRESS_ALLOW_PRIVATE'),
    },
    objects,
    logger.child({ component: 'egress-policy' }),
    Date.now,
    // The hosts of the workspace's MCP servers join its allow list.
    (tenant, workspaceId) => agentSettings.mcpEgress(tenant, workspaceId),
  );
  reloadEgress = async (tenant, workspaceId) => {
    await policies.reload(tenant, workspaceId);
    // Other hosts that cache the workspace's policy read it again.
    await control.egressChanged(tenant, workspaceId);
  };
  const secretCipher = config.secretsKey ? new SecretCipher(config.secretsKey) : null;
  const secrets = new SecretStore(secretCipher, objects, logger.child({ component: 'secrets' }), {
    maxPerScope: 100,
  });
  // With secrets on, the proxy terminates TLS for secret hosts with the installation's CA,
  // whose public half every container trusts.
  const trust = secrets.enabled
    ? await loadInterception(dataDir, config.upstreamCaFile ?? null)
    : null;
  const auditLogger = logger.child({ component: 'egress-audit' });
  const proxy = new CredentialProxy({
    anthropic: {
      upstream: new URL(anthropicUpstream),
      // The built-in mock model takes any key; an offline demo has none to give.
      apiKey: () => config.anthropicApiKey ?? (mockModel ? 'mock-model-key' : undefined),
      operations: parseAnthropicOperations(
        splitList(config.anthropicOperations),
        'WORKCELL_ANTHROPIC_OPERATIONS',
      ),
    },
    bedrock: {
      upstream: new URL(bedrockUpstream),
      region: config.awsRegion,
      // The AWS SDK's default chain; the object store has its own keys (`WORKCELL_S3_*`).
      credentials: fromNodeProviderChain(),
      maxBodyBytes: 20 * 1024 * 1024,
    },
    limits: {
      maxConnectionsPerListener: config.proxyMaxConnections,
      maxTunnelsPerListener: config.proxyMaxTunnels,
      tunnelIdleTimeoutMs: config.proxyTunnelIdleMs,
      headersTimeoutMs: config.proxyHeadersTimeoutMs,
      requestTimeoutMs: config.proxyRequestTimeoutMs,
      maxBufferedBodyBytes: config.proxyMaxBufferedBytes,
    },
    audit: (record: AuditRecord) => {
      audit.record(record);
      metrics.proxyRequest(record.decision);
      metrics.proxySecrets(record);
      auditLogger.info({ audit: record }, 'egress');
    },
    logger: logger.child({ component: 'proxy' }),
    interception: trust?.interception ?? null,
    // An injected clock (a test's) times audit records too; the proxy's own is high-resolution.
    ...(options.clock ? { clock: () => clock.now() } : {}),
  });
  const gateway = new ProxyEgressGateway(proxy, policies, secrets);

  if (config.workspaceDiskMb > 0) await LoopbackVolumes.check();
  const slots = new SlotStore(
    dataDir,
    config.workspaceDiskMb > 0 ? new LoopbackVolumes(config.workspaceDiskMb) : new PlainVolumes(),
  );
  const startTimeoutMs = 30_000;
  /** The run lease's TTL; a run renews it every third of this while it goes on. */
  const runLeaseTtlMs = 30_000;
  const bus: ControlBus = config.redisUrl
    ? new RedisControlBus({ url: config.redisUrl, hostId: config.hostId, logger })
    : new LocalControlBus(config.hostId, logger);
  const listeners = new EgressListeners({
    gateway,
    slots,
    hostId: config.hostId,
    logger: logger.child({ component: 'egress-listeners' }),
  });
  const orchestrator: Orchestrator = new Orchestrator({
    onSlotRemoved: (slotId) => {
      sync.forget(slotId);
      terminalActivity.forget(slotId);
    },
    onWarmClaim: () => pool.kick(),
    onForeignContainer: (record): Promise<void> =>
      control.removeContainer(record, 'workspace moved to another host'),
    runtime,
    state,
    slots,
    listeners,
    clock,
    logger: logger.child({ component: 'orchestrator' }),
    settings: {
      image: config.image,
      imageVersion: config.version,
      hostId: config.hostId,
      scopeId: dataDirScope(dataDir),
      runtime: config.runtime,
      limits: {
        memoryMb: config.containerMemoryMb,
        cpus: config.containerCpus,
        pids: config.containerPids,
        nofile: config.containerNofile,
      },
      agentEnv: {
        ...agentEnvironment(config),
        ...(trust ? containerTrustEnv(CONTAINER_PATHS.trust) : {}),
      },
      warmAgentEnv: warmAgentEnvironment(toRunOptions(agentPolicy.defaults)),
      ...(trust ? { trustDir: trust.publicDir } : {}),
      startTimeoutMs,
    },
  });

  const catalog = new Catalog(objects);
  if (config.webhookUrl) parseWebhookUrl(config.webhookUrl);
  const webhookPolicy: AddressPolicy = {
    allowPrivate: config.webhookAllowPrivate,
    resolve: options.webhookResolver ?? systemWebhookResolver,
    localAddresses: systemLocalAddresses,
    resolveTimeoutMs: 5_000,
  };
  const webhookEndpoints = new WebhookEndpointStore(objects, secretCipher);
  const operatorWebhook =
    config.webhookUrl && config.webhookSecret
      ? { url: config.webhookUrl, secret: config.webhookSecret }
      : null;
  const dispatcher = new WebhookDispatcher({
    state,
    endpoints: webhookEndpoints,
    operator: operatorWebhook,
    policy: webhookPolicy,
    clock,
    logger: logger.child({ component: 'webhooks' }),
    hostId: config.hostId,
    userAgent: `Workcell-Webhooks/${config.version}`,
    observer: metrics,
    settings: {
      timeoutMs: config.webhookTimeoutMs,
      maxAttempts: config.webhookMaxAttempts,
      retryBaseMs: config.webhookRetryBaseMs,
      retryMaxMs: 3_600_000,
      pollIntervalMs: 1_000,
      batch: 16,
    },
  });
  const webhooks = new WebhookPublisher({
    endpoints: webhookEndpoints,
    state,
    clock,
    operator: operatorWebhook,
    onEnqueued: () => dispatcher.kick(),
  });
  const events = new RunEventLog(state, {
    logger: logger.child({ component: 'run-events' }),
    clock,
  });
  const terminalActivity = new TerminalActivity();
  const sync = new ObjectStoreWorkspaceSync(objects, {
    maxFileBytes: config.maxFileBytes,
    logger: logger.child({ component: 'sync' }),
    observe: metrics.synced,
    terminals: terminalActivity,
  });
  /**
   * After the API stored files (a write, a delete, an unpacked archive), still under the
   * workspace's lease: brings its container up to date, here or on the host that has it.
   */
  const filesStored = async (tenant: string, workspaceId: string): Promise<void> => {
    const record = await orchestrator.assigned(workspaceId);
    if (!record) return;
    if (orchestrator.isLocal(record)) await pushFiles(tenant, workspaceId);
    else await control.filesChanged(tenant, workspaceId);
  };
  const files = new StoreFilesService(objects, state, {
    maxFileBytes: config.maxFileBytes,
    hostId: config.hostId,
    clock,
    logger: logger.child({ component: 'files' }),
    afterChange: filesStored,
  });
  const archives = new ArchiveService(objects, {
    limits: {
      maxBytes: config.archiveMaxBytes,
      maxUnpackedBytes: config.archiveMaxUnpackedBytes,
      maxEntries: config.archiveMaxEntries,
      maxRatio: config.archiveMaxRatio,
      maxFileBytes: config.maxFileBytes,
      maxConcurrent: config.archiveMaxUploads,
    },
    // One directory per host id: hosts that share a data directory never clear each other's.
    stagingDir: join(dataDir, 'staging', 'archives', config.hostId.replace(/^\.+$/, '_')),
    clock,
    logger: logger.child({ component: 'archives' }),
    withLease: (workspaceId, work) =>
      withWriteLease(
        state,
        { hostId: config.hostId, clock, logger: logger.child({ component: 'archives' }) },
        workspaceId,
        work,
      ),
    afterChange: filesStored,
  });
  await archives.clearStaging();
  /** Brings a workspace's files into its container here, when it has one between runs. */
  const pushFiles = async (tenant: string, workspaceId: string): Promise<void> => {
    const record = await orchestrator.assigned(workspaceId);
    if (!record || !orchestrator.isLocal(record)) return;
    if (record.state === 'assigned' || record.state === 'idle') {
      await sync.syncIn(tenant, workspaceId, slots.slot(record.slotId));
    }
  };
  const execute: ExecuteService = new ExecuteService({
    catalog,
    containers: orchestrator,
    state,
    events,
    sync,
    clock,
    observer: metrics,
    runEnv: (tenant, workspaceId) => secrets.placeholders(tenant, workspaceId),
    webhooks,
    agentSettings,
    remote: { interrupt: (runId): Promise<void> => control.interrupt(runId) },
    admit: (workspaceId): Promise<void> => capacity.admit(workspaceId),
    logger: logger.child({ component: 'execute' }),
    settings: {
      runTimeoutMs: config.runTimeoutMs,
      maxPromptBytes: config.maxPromptBytes,
      maxImageBytes: config.maxImageBytes,
      leaseTtlMs: runLeaseTtlMs,
      eventBufferTtlMs: 3_600_000,
    },
  });
  const exec = new ExecService({
    catalog,
    containers: orchestrator,
    runtime,
    sync,
    state,
    clock,
    placeholders: (tenant, workspaceId) => secrets.placeholders(tenant, workspaceId),
    agentEnv: (tenant, workspaceId) => agentSettings.toolEnv(tenant, workspaceId),
    admit: (workspaceId): Promise<void> => capacity.admit(workspaceId),
    observer: metrics,
    logger: logger.child({ component: 'exec' }),
    settings: {
      timeoutMs: config.execTimeoutMs,
      leaseTtlMs: runLeaseTtlMs,
      env: { provider: config.modelProvider, awsRegion: config.awsRegion },
    },
  });

  const scope = {
    image: config.image,
    imageVersion: config.version,
    hostId: config.hostId,
    scopeId: dataDirScope(dataDir),
    startTimeoutMs,
  };
  const capacity: HostCapacity = new HostCapacity({
    containers: orchestrator,
    state,
    slots,
    sync,
    clock,
    hostId: config.hostId,
    scope,
    runLeaseTtlMs,
    max: config.maxContainers,
    logger: logger.child({ component: 'capacity' }),
  });
  const control: CrossHostControl = new CrossHostControl({
    bus,
    containers: orchestrator,
    state,
    policies,
    interruptLocal: (runId): boolean => execute.interruptLocal(runId),
    pushFiles,
    logger: logger.child({ component: 'control' }),
  });

  const pool = new WarmPool({
    containers: orchestrator,
    listeners,
    state,
    runtime,
    slots,
    clock,
    logger: logger.child({ component: 'warm-pool' }),
    room: () => capacity.roomForWarm(),
    settings: {
      size: config.warmPoolSize,
      intervalMs: 5_000,
      parallelCreates: 2,
      leaseTtlMs: 2 * startTimeoutMs,
    },
    scope,
  });
  const gc = new GarbageCollector({
    containers: orchestrator,
    state,
    runtime,
    slots,
    sync,
    clock,
    hostId: config.hostId,
    scope,
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
      containers: orchestrator,
      state,
      runtime,
      slots,
      sync,
      clock,
      scope,
      logger: logger.child({ component: 'reconcile' }),
      runLeaseTtlMs,
      graceMs: 10_000,
    });

  const terminals = new TerminalService({
    containers: orchestrator,
    runtime,
    state,
    slots,
    sync,
    activity: terminalActivity,
    admit: (workspaceId): Promise<void> => capacity.admit(workspaceId),
    observer: metrics,
    clock,
    logger: logger.child({ component: 'terminal' }),
    hostId: config.hostId,
    settings: {
      idleTimeoutMs: config.terminalIdleTimeoutMs,
      maxPerWorkspace: config.terminalMaxPerWorkspace,
      maxPerHost: config.terminalMaxPerHost,
      runLeaseTtlMs,
    },
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
    capacity: () => capacity.report(),
    containers: ownContainers,
    readyAgents: (records) => orchestrator.readyAgents(records),
  });

  const api = await buildApi({
    auth,
    catalog,
    containers: orchestrator,
    workspaces: new WorkspaceRemoval({
      catalog,
      containers: orchestrator,
      removal: control,
      state,
      clock,
      logger: logger.child({ component: 'workspaces' }),
      hostId: config.hostId,
      webhooks,
    }),
    webhooks: new WebhookRegistry({
      endpoints: webhookEndpoints,
      policy: webhookPolicy,
      clock,
    }),
    execute,
    exec,
    control,
    agentSettings,
    usage: new UsageService(catalog),
    events,
    files,
    archives,
    terminals,
    egress: { policies, audit },
    secrets,
    health,
    metrics,
    tickets: new TicketService({ state, clock, ttlMs: config.ticketTtlMs }),
    rateLimit: new TenantRateLimiter(
      state,
      config.rateLimitPerMinute,
      logger.child({ component: 'rate-limit' }),
    ),
    state,
    runtime,
    logger: logger.child({ component: 'api' }),
    limits: {
      maxFileBytes: config.maxFileBytes,
      maxJsonBytes: maxRequestBytes(messageBytes(config)),
      maxExecOutputBytes: config.execMaxOutputBytes,
      maxArchiveBytes: config.archiveMaxBytes,
    },
    version: config.version,
    console: await loadConsoleAssets(consoleDistDir()),
    corsOrigins: splitList(config.corsOrigins),
    managedAgents: {
      objects,
      cipher: secretCipher,
      allowUnrestrictedNetworking: config.managedAgentsUnrestricted,
    },
  });

  return {
    config,
    logger,
    api,
    state,
    objects,
    runtime,
    orchestrator,
    listeners,
    slots,
    clock,
    pool,
    gc,
    reconcile: reconcileContainers,
    execute,
    exec,
    terminals,
    catalog,
    audit,
    policies,
    secrets,
    mockModel,
    metrics,
    health,
    generatedToken,
    async listen() {
      await reconcileContainers().catch((err: unknown) => {
        logger.error({ err }, 'reconcile failed; serving anyway (GC cleans up later)');
      });
      await bus.ready().catch((err: unknown) => {
        logger.error({ err }, 'control channel not subscribed; serving anyway');
      });
      pool.start();
      gc.start();
      dispatcher.start();
      return api.listen({ port: config.port, host: config.host });
    },
    async close(deadlineMs = config.shutdownTimeoutMs) {
      await Promise.all([execute.shutdown(deadlineMs), exec.shutdown(deadlineMs)]);
      await terminals.closeAll();
      await api.close();
      await pool.stop();
      await gc.stop();
      await dispatcher.stop();
      control.close();
      await bus.close();
      await listeners.close();
      await gateway.close();
      await state.close();
      await objects.close();
      await mockModel?.close();
    },
  };
}
