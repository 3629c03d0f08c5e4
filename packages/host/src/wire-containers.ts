import { CONTAINER_PATHS } from '@workcell/protocol';
import type { Logger } from 'pino';
import { agentEnvironment } from './agent-environment.js';
import type { ResolvedConfig } from './config/load.js';
import { HostCapacity } from './containers/capacity.js';
import type { EgressListeners } from './containers/egress-listeners.js';
import { GarbageCollector, GC_LEASE_TTL_MS, gcGraceMs } from './containers/gc.js';
import { AgentClient } from './containers/agent-client.js';
import { CONTAINER_START_TIMEOUT_MS, Orchestrator } from './containers/orchestrator.js';
import {
  READY_COUNT_DEFAULTS,
  ReadyAgentCount,
  runContainersCounted,
  warmContainersCounted,
} from './containers/ready-count.js';
import { ReadyLimit, usingReadyLimit, warmUnderReadyLimit } from './containers/ready-limit.js';
import { reconcile, RECONCILE_GRACE_MS, type ReconcileReport } from './containers/reconcile.js';
import { dataDirScope } from './containers/scope.js';
import type { SlotStore } from './containers/slots.js';
import { TerminalActivity } from './containers/terminal-activity.js';
import { refillLeaseTtlMs, WARM_POOL_DEFAULTS, WarmPool } from './containers/warm-pool.js';
import type { ControlMessages } from './control/control-messages.js';
import type { WorkcellMetrics } from './metrics/metrics.js';
import { containerTrustEnv } from './secrets/trust.js';
import { WORKSPACE_LOCK_TTL_MS } from './state/leases.js';
import { type Clock } from './time/clock.js';
import { Workspaces } from './workspace/hold.js';
import { ObjectStoreWorkspaceSync } from './workspace/object-store-sync.js';
import { withWriteLease } from './files/store-files-service.js';
import { BLOB_GC_GRACE_MS, BlobGc } from './snapshots/blob-gc.js';
import { Snapshots } from './snapshots/snapshots.js';
import type { TrustSetup } from './secrets/trust.js';
import type { ContainerRecord, StateStore } from './state/state-store.js';
import type { ObjectStore } from './storage/object-store.js';
import type { ContainerRuntime } from './containers/runtime.js';
import type { StoreRetry } from './dependencies/retry.js';

/**
 * Builds what manages this host's workspace containers (the orchestrator, capacity, warm pool,
 * GC, reconcile) and the workspace module that holds them for a piece of work. Two bindings are
 * late: the orchestrator tells the warm pool of every warm claim (`kickPool`), while the pool
 * makes its containers through the orchestrator; and the ready count asks agents through the
 * orchestrator, which tells it of every slot removed.
 */
export function wireContainers(
  config: ResolvedConfig,
  deps: {
    dataDir: string;
    runtime: ContainerRuntime;
    state: StateStore;
    objects: ObjectStore;
    slots: SlotStore;
    listeners: EgressListeners;
    clock: Clock;
    log: (component: string) => Logger;
    metrics: WorkcellMetrics;
    messages: ControlMessages;
    ownContainers: () => Promise<ContainerRecord[]>;
    warmAgentEnv: Record<string, string>;
    trust: TrustSetup | null;
    storeRetry: StoreRetry;
  },
) {
  const { dataDir, runtime, state, objects, slots, listeners, clock, log, metrics, messages } =
    deps;
  const { ownContainers, trust } = deps;
  const { hostId } = config;
  const terminalActivity = new TerminalActivity();
  const blobGc = new BlobGc(objects, { graceMs: BLOB_GC_GRACE_MS, clock, logger: log('blob-gc') });
  const snapshots = new Snapshots(objects, {
    keep: config.snapshotKeep,
    clock,
    logger: log('snapshots'),
    withWorkspaceLock: (workspaceId, work) =>
      withWriteLease(state, { hostId, clock, logger: log('snapshots') }, workspaceId, work),
    retired: (tenant) => {
      blobGc
        .collect(tenant)
        .catch((err: unknown) => log('blob-gc').warn({ err, tenant }, 'blob collection failed'));
    },
  });
  const sync = new ObjectStoreWorkspaceSync(objects, {
    snapshots,
    maxFileBytes: config.maxFileBytes,
    logger: log('sync'),
    observe: metrics.synced,
    terminals: terminalActivity,
  });
  const scope = {
    image: config.image,
    imageVersion: config.version,
    hostId,
    scopeId: dataDirScope(dataDir),
    startTimeoutMs: CONTAINER_START_TIMEOUT_MS,
  };
  const readyCount = new ReadyAgentCount({
    containers: ownContainers,
    container: (id) => state.getContainer(id),
    ask: async (record) => (await orchestrator.readyAgents([record])) === 1,
    clock,
    logger: log('ready-count'),
    settings: READY_COUNT_DEFAULTS,
  });
  let kickPool = (): void => undefined;
  const readyLimit =
    config.agentPrewarm && config.agentReadyMax !== undefined
      ? new ReadyLimit({
          max: config.agentReadyMax,
          clock,
          logger: log('ready-limit'),
          release: (slotId) =>
            new AgentClient(slots.slot(slotId).agentSocket)
              .releaseReady()
              .finally(() => readyCount.changedSlot(slotId)),
        })
      : null;
  const orchestrator = new Orchestrator({
    onSlotRemoved: (slotId) => {
      sync.forget(slotId);
      terminalActivity.forget(slotId);
      readyLimit?.forget(slotId);
      readyCount.forgetSlot(slotId);
    },
    onWarmClaim: () => kickPool(),
    onForeignContainer: (record) =>
      messages.removeElsewhere(record, 'workspace moved to another host'),
    runtime,
    state,
    slots,
    listeners,
    clock,
    logger: log('orchestrator'),
    settings: {
      ...scope,
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
      warmAgentEnv: deps.warmAgentEnv,
      ...(trust ? { trustDir: trust.publicDir } : {}),
    },
  });
  metrics.countReadyAgents(() => readyCount.value);
  const containerDeps = { containers: orchestrator, state, slots, sync, clock, scope };
  const capacity = new HostCapacity({
    ...containerDeps,
    hostId,
    runLeaseTtlMs: WORKSPACE_LOCK_TTL_MS,
    max: config.maxContainers,
    logger: log('capacity'),
  });
  const pool = new WarmPool({
    ...containerDeps,
    containers: warmContainersCounted(
      readyLimit ? warmUnderReadyLimit(orchestrator, readyLimit) : orchestrator,
      readyCount,
    ),
    listeners,
    runtime,
    logger: log('warm-pool'),
    room: () => capacity.roomForWarm(),
    settings: {
      ...WARM_POOL_DEFAULTS,
      size: config.warmPoolSize,
      claimRefillDelayMs: config.warmPoolRefillDelayMs,
      leaseTtlMs: refillLeaseTtlMs(CONTAINER_START_TIMEOUT_MS),
    },
  });
  kickPool = () => pool.claimed();
  const gc = new GarbageCollector({
    ...containerDeps,
    runtime,
    hostId,
    blobs: blobGc,
    logger: log('gc'),
    settings: {
      idleTimeoutMs: config.idleTimeoutMs,
      maxLifetimeMs: config.maxLifetimeMs,
      intervalMs: config.gcIntervalMs,
      leaseTtlMs: GC_LEASE_TTL_MS,
      runLeaseTtlMs: WORKSPACE_LOCK_TTL_MS,
      graceMs: gcGraceMs(CONTAINER_START_TIMEOUT_MS),
    },
  });
  const reconcileContainers = (): Promise<ReconcileReport> =>
    reconcile({
      ...containerDeps,
      runtime,
      logger: log('reconcile'),
      runLeaseTtlMs: WORKSPACE_LOCK_TTL_MS,
      graceMs: RECONCILE_GRACE_MS,
    });
  const workspaces = new Workspaces({
    containers: runContainersCounted(
      readyLimit ? usingReadyLimit(orchestrator, readyLimit) : orchestrator,
      readyCount,
    ),
    sync,
    state,
    clock,
    logger: log('workspace'),
    admit: (workspaceId) => capacity.admit(workspaceId),
    observer: metrics,
    storeRetry: deps.storeRetry,
    settings: { lockTtlMs: WORKSPACE_LOCK_TTL_MS },
  });

  return {
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
    readyLimit,
    readyCount,
  };
}
