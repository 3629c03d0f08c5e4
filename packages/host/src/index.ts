export {
  createWorkcell,
  createLogger,
  REDACT_PATHS,
  type Workcell,
  type WorkcellOptions,
} from './workcell.js';
export {
  loadConfig,
  resolveConfig,
  configSchema,
  ENV_NAMES,
  WORKCELL_VERSION,
  type ResolvedConfig,
  type Config,
  type ConfigInput,
} from './config/index.js';
export { buildWorkspaceImage, findRepoRoot, type ImageBuildResult } from './image/builder.js';
export { DockerRuntime } from './containers/docker-runtime.js';
export { AgentClient } from './containers/agent-client.js';
export { Orchestrator, type OrchestratorSettings } from './containers/orchestrator.js';
export { EgressListeners } from './containers/egress-listeners.js';
export type {
  AcquiredContainer,
  AgentConnection,
  RunContainers,
  WorkspaceContainers,
} from './containers/run-containers.js';
export type { WorkspaceSync } from './containers/workspace-sync.js';
export { systemClock, ManualClock, SetTimeClock, type Clock, type Timer } from './time/clock.js';
export {
  LEASES,
  workspaceLockName,
  poolLeaseName,
  gcLeaseName,
  leaseHolder,
  takeLease,
  withLease,
  type HeldLease,
  type LeaseSpec,
} from './state/leases.js';
export {
  LABELS,
  type ContainerRuntime,
  type ContainerSpec,
  type ExecChunk,
  type ExecExitStatus,
  type ExecProcess,
  type ExecSpec,
  type ContainerInfo,
  type TerminalOptions,
  type TerminalSession,
} from './containers/runtime.js';
export { TerminalService, type OpenTerminal } from './terminal/terminal-service.js';
export { SlotStore, type Slot, type AssignmentRecord } from './containers/slots.js';
export { dataDirScope, poolName } from './containers/scope.js';
export { HostCapacity, type CapacityReport } from './containers/capacity.js';
export {
  WarmPool,
  type WarmPoolSettings,
  type PoolScope,
  type PoolTick,
} from './containers/warm-pool.js';
export { GarbageCollector, type GcSettings, type GcReport } from './containers/gc.js';
export { reconcile, type ReconcileReport, type ReconcileDeps } from './containers/reconcile.js';
export type {
  StateStore,
  ContainerRecord,
  ContainerState,
  BufferedEvent,
} from './state/state-store.js';
export {
  ExecuteService,
  type ExecuteSettings,
  type RunObserver,
  type RunService,
} from './execute/execute-service.js';
export {
  RunEventLog,
  TERMINAL_EVENTS,
  type RunEventName,
  type FinishedRunSource,
} from './execute/run-events.js';
export { TokenAuthenticator, type Principal } from './auth/tokens.js';
export { TenantRateLimiter, type RateDecision } from './auth/rate-limit.js';
export { WorkcellMetrics } from './metrics/metrics.js';
export { HealthChecks, type HealthReport, type ReadinessReport } from './metrics/health.js';
export { buildApi } from './api/app.js';
export { OPERATIONS, type Operation } from './api/contract.js';
export { buildOpenApiDocument, openApiPath } from './api/openapi.js';
export type { ObjectStore, ObjectInfo } from './storage/object-store.js';
