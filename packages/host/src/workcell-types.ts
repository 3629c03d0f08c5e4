import type { MockModel } from '@workcell/mock-model';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { ResolvedConfig } from './config/load.js';
import type { EgressListeners } from './containers/egress-listeners.js';
import type { GarbageCollector } from './containers/gc.js';
import type { Orchestrator } from './containers/orchestrator.js';
import type { ReconcileReport } from './containers/reconcile.js';
import type { ContainerRuntime } from './containers/runtime.js';
import type { SlotStore } from './containers/slots.js';
import type { WarmPool } from './containers/warm-pool.js';
import type { AuditTrail } from './egress/gateway.js';
import type { PolicyStore } from './egress/policy-store.js';
import type { ExecService } from './exec/exec-service.js';
import type { ApprovalService } from './approvals/index.js';
import type { ExecuteService } from './execute/execute-service.js';
import type { Catalog } from './catalog/catalog.js';
import type { HealthChecks } from './metrics/health.js';
import type { WorkcellMetrics } from './metrics/metrics.js';
import type { SecretStore } from './secrets/secret-store.js';
import type { StateStore } from './state/state-store.js';
import type { ObjectStore } from './storage/object-store.js';
import type { TerminalService } from './terminal/terminal-service.js';
import type { Clock } from './time/clock.js';
import type { WebhookResolver } from './webhooks/index.js';

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
  /** Approvals and client tool calls of the runs on this host. */
  approvals: ApprovalService;
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
