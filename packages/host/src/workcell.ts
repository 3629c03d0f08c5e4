import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { startMockModel, type MockModel } from '@workcell/mock-model';
import { maxRequestBytes } from '@workcell/protocol';
import type { Logger } from 'pino';
import { toRunOptions } from './agent-settings/index.js';
import { messageBytes, warmAgentEnvironment } from './agent-environment.js';
import { buildApi } from './api/app.js';
import { consoleDistDir, loadConsoleAssets } from './api/console.js';
import { TenantRateLimiter } from './auth/rate-limit.js';
import { TicketService } from './auth/tickets.js';
import { TokenAuthenticator, tokensOrGenerated } from './auth/tokens.js';
import { Catalog } from './catalog/catalog.js';
import type { ResolvedConfig } from './config/load.js';
import { splitList } from './config/schema.js';
import { DockerRuntime } from './containers/docker-runtime.js';
import { LoopbackVolumes, PlainVolumes } from './containers/slot-volume.js';
import { SlotStore } from './containers/slots.js';
import { LocalControlBus, RedisControlBus, type ControlBus } from './control/control-bus.js';
import { ControlMessages } from './control/control-messages.js';
import { CrossHostControl } from './control/cross-host.js';
import { AuditTrail } from './egress/gateway.js';
import { ForkService } from './fork/fork-service.js';
import { withWriteLease } from './files/store-files-service.js';
import { RunEventLog } from './execute/run-events.js';
import type { StoreRetry } from './dependencies/retry.js';
import { DependencyWatch } from './dependencies/watch.js';
import { createLogger } from './logger.js';
import { HealthChecks } from './metrics/health.js';
import { WorkcellMetrics } from './metrics/metrics.js';
import { createStateStore } from './state/index.js';
import type { ContainerRecord } from './state/state-store.js';
import { s3SettingsFrom } from './storage/create-store.js';
import { createObjectStore } from './storage/index.js';
import { systemClock } from './time/clock.js';
import { UsageService } from './usage/usage-service.js';
import { WebhookRegistry } from './webhooks/index.js';
import { WorkspaceRemoval } from './workspace/workspace-removal.js';
import { wireEgress } from './wire-egress.js';
import { wireContainers } from './wire-containers.js';
import { wireFiles } from './wire-files.js';
import { wireWork } from './wire-work.js';
import { wireWebhooks } from './wire-webhooks.js';
import type { Workcell, WorkcellOptions } from './workcell-types.js';

export { createLogger, REDACT_PATHS } from './logger.js';
export type { Workcell, WorkcellOptions } from './workcell-types.js';
export { agentEnvironment, messageBytes, warmAgentEnvironment } from './agent-environment.js';

/**
 * The composition root: builds every service of the host from one configuration, each after
 * what it needs, and wires nothing else. One binding is late, and only one: the orchestrator
 * tells the warm pool of every warm claim (`kickPool`), while the pool makes its containers
 * through the orchestrator.
 */
export async function createWorkcell(
  config: ResolvedConfig,
  options: WorkcellOptions = {},
): Promise<Workcell> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const log = (component: string): Logger => logger.child({ component });
  const clock = options.clock ?? systemClock;
  const { hostId } = config;
  const dataDir = resolve(config.dataDir);
  mkdirSync(dataDir, { recursive: true });

  const mockModel: MockModel | null = options.mockModel
    ? await startMockModel({ logger: log('mock-model') })
    : null;
  const objects =
    options.objects ?? createObjectStore({ dataDir, s3: s3SettingsFrom(config), logger });
  const state = createStateStore({ redisUrl: config.redisUrl, logger });
  const dependencies = new DependencyWatch({
    probes: { stateStore: () => state.ping(), objectStore: () => objects.ping() },
    describe: {
      stateStore: state.kind === 'redis' ? 'the state store (Redis)' : 'the state store',
      objectStore: `the object store (${objects.description})`,
    },
    clock,
    logger,
  });
  const storeRetry: StoreRetry = {
    clock,
    logger: log('store-retry'),
    deadlineMs: config.storeRetryMs,
    watch: dependencies,
  };
  const runtime = options.runtime ?? new DockerRuntime(log('docker'));
  if (config.workspaceDiskMb > 0) await LoopbackVolumes.check();
  const slots = new SlotStore(
    dataDir,
    config.workspaceDiskMb > 0 ? new LoopbackVolumes(config.workspaceDiskMb) : new PlainVolumes(),
  );
  /** This host's containers: those whose slot is in its data directory (each host is scraped on its own). */
  const ownContainers = async (): Promise<ContainerRecord[]> =>
    (await state.listContainers()).filter((r) => slots.exists(r.slotId));
  const metrics = new WorkcellMetrics(ownContainers);
  const audit = new AuditTrail();
  const bus: ControlBus = config.redisUrl
    ? new RedisControlBus({ url: config.redisUrl, hostId, logger })
    : new LocalControlBus(hostId, logger);
  const messages = new ControlMessages({ bus, state });

  const {
    agentPolicy,
    agentSettings,
    policies,
    secretCipher,
    secrets,
    trust,
    gateway,
    listeners,
    proxyHealth,
  } = await wireEgress(config, {
    objects,
    slots,
    clock,
    testClock: options.clock ?? null,
    log,
    logger,
    dataDir,
    mockModel,
    messages,
    metrics,
    audit,
  });
  const {
    terminalActivity,
    snapshots,
    blobGc,
    sync,
    orchestrator,
    capacity,
    pool,
    gc,
    reconcileContainers,
    workspaces,
    readyCount,
  } = wireContainers(config, {
    dataDir,
    runtime,
    state,
    objects,
    slots,
    listeners,
    clock,
    log,
    metrics,
    messages,
    ownContainers,
    warmAgentEnv: warmAgentEnvironment(toRunOptions(agentPolicy.defaults)),
    trust,
    storeRetry,
  });
  const catalog = new Catalog(objects, clock);
  const { webhookPolicy, webhookEndpoints, dispatcher, webhooks } = wireWebhooks(config, {
    state,
    objects,
    clock,
    log,
    secretCipher,
    metrics,
    resolver: options.webhookResolver ?? null,
  });
  const events = new RunEventLog(state, { logger: log('run-events'), clock, retry: storeRetry });

  const { files, archives, pushFiles, filesChanged } = await wireFiles(config, {
    objects,
    state,
    clock,
    log,
    dataDir,
    orchestrator,
    sync,
    slots,
    messages,
  });

  const { execute, approvals, exec, terminals } = wireWork(config, {
    catalog,
    workspaces,
    state,
    events,
    clock,
    log,
    metrics,
    secrets,
    webhooks,
    agentSettings,
    messages,
    runtime,
    orchestrator,
    slots,
    terminalActivity,
    bus,
    storeRetry,
  });
  const control = new CrossHostControl({
    bus,
    containers: orchestrator,
    state,
    policies,
    interruptLocal: (runId) => execute.interruptLocal(runId),
    pushFiles,
    logger: log('control'),
  });

  const { tokens, generatedToken } = tokensOrGenerated(config.apiTokens);
  const health = new HealthChecks({
    runtime,
    state,
    objects,
    image: config.image,
    accepting: () => execute.isAccepting,
    capacity: () => capacity.report(),
    containers: ownContainers,
    readyAgents: () => readyCount.value,
    proxy: proxyHealth,
    watch: dependencies,
  });
  const api = await buildApi({
    auth: new TokenAuthenticator(tokens, config.adminTokens),
    catalog,
    containers: orchestrator,
    workspaces: new WorkspaceRemoval({
      catalog,
      containers: orchestrator,
      removal: control,
      state,
      clock,
      logger: log('workspaces'),
      hostId,
      blobs: blobGc,
      webhooks,
    }),
    webhooks: new WebhookRegistry({ endpoints: webhookEndpoints, policy: webhookPolicy, clock }),
    execute,
    approvals,
    exec,
    control,
    snapshots: {
      page: (tenant, workspaceId, req) => snapshots.page(tenant, workspaceId, req),
      take: (tenant, workspaceId) => snapshots.take(tenant, workspaceId),
      restore: (tenant, workspaceId, snapshotId) =>
        snapshots.restore(tenant, workspaceId, snapshotId, filesChanged),
    },
    forks: new ForkService({
      store: objects,
      catalog,
      snapshots,
      secrets,
      withWorkspaceLock: (workspaceId, work) =>
        withWriteLease(state, { hostId, clock, logger: log('forks') }, workspaceId, work),
      filesChanged,
      clock,
      logger: log('forks'),
    }),
    agentSettings,
    usage: new UsageService(catalog),
    events,
    files,
    archives,
    terminals,
    egress: { policies, audit },
    secrets,
    health,
    dependencies,
    metrics,
    tickets: new TicketService({ state, clock, ttlMs: config.ticketTtlMs }),
    rateLimit: new TenantRateLimiter(state, config.rateLimitPerMinute, log('rate-limit')),
    state,
    runtime,
    logger: log('api'),
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
      hostId: config.hostId,
      packages: {
        registries: { npm: config.npmRegistry, pip: config.pipIndexUrl },
        timeoutMs: config.packageInstallTimeoutMs,
        image: config.image,
      },
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
    approvals,
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
      readyCount.start();
      execute.startAdopting();
      dependencies.start();
      dispatcher.start();
      return api.listen({ port: config.port, host: config.host });
    },
    async close(deadlineMs = config.shutdownTimeoutMs) {
      await Promise.all([execute.shutdown(deadlineMs), exec.shutdown(deadlineMs)]);
      dependencies.stop();
      await terminals.closeAll();
      await api.close();
      await pool.stop();
      await gc.stop();
      readyCount.close();
      await dispatcher.stop();
      control.close();
      approvals.close();
      await bus.close();
      await listeners.close();
      await gateway.close();
      await state.close();
      await objects.close();
      await mockModel?.close();
    },
  };
}
