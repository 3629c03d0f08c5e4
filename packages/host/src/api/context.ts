import type { Logger } from 'pino';
import type { AgentSettingsService } from '../agent-settings/index.js';
import type { ApprovalService } from '../approvals/index.js';
import type { ConsoleAssets } from './console.js';
import type { ManagedAgentsSettings } from '../managed-agents/service.js';
import type { TokenAuthenticator, Principal } from '../auth/tokens.js';
import type { TenantRateLimiter } from '../auth/rate-limit.js';
import type { TicketService } from '../auth/tickets.js';
import type { Catalog } from '../catalog/catalog.js';
import type { WorkspaceContainers } from '../containers/run-containers.js';
import type { ContainerRuntime } from '../containers/runtime.js';
import type { CrossHostControl } from '../control/cross-host.js';
import type { ExecService } from '../exec/exec-service.js';
import type { SnapshotView } from '../snapshots/snapshot-record.js';
import type { Snapshots } from '../snapshots/snapshots.js';
import type { ForkService } from '../fork/fork-service.js';
import type { RunService } from '../execute/execute-service.js';
import type { RunEventLog } from '../execute/run-events.js';
import type { WorkspaceRemover } from '../workspace/workspace-removal.js';
import type { FilesService } from '../files/files-service.js';
import type { ArchiveService } from '../archive/archive-service.js';
import type { AuditTrail } from '../egress/gateway.js';
import type { PolicyStore } from '../egress/policy-store.js';
import type { HealthChecks } from '../metrics/health.js';
import type { DependencyWatch } from '../dependencies/watch.js';
import type { SecretStore } from '../secrets/secret-store.js';
import type { WorkcellMetrics } from '../metrics/metrics.js';
import type { StateStore, TicketGrant } from '../state/state-store.js';
import type { UsageService } from '../usage/usage-service.js';
import type { WebhookRegistry } from '../webhooks/registry.js';
import type { TerminalService } from '../terminal/terminal-service.js';

/** The services the HTTP routes use; built by the composition root. */
export interface ApiServices {
  auth: TokenAuthenticator;
  rateLimit: TenantRateLimiter;
  /** Single-use browser tickets for the terminal and event streams. */
  tickets: Pick<TicketService, 'issue' | 'redeem'>;
  catalog: Catalog;
  /** The container assigned to a workspace (shown on the workspace). */
  containers: Pick<WorkspaceContainers, 'assigned'>;
  /** Deletes a workspace under its run lease. */
  workspaces: WorkspaceRemover;
  execute: RunService;
  /** Approvals and client tool calls: listed, decided, answered. */
  approvals: Pick<ApprovalService, 'list' | 'decide' | 'sendResult'>;
  /** Workspace snapshots: listed and taken through the API. */
  snapshots: Pick<Snapshots, 'page' | 'take'> & {
    /** Returns the workspace's files to the snapshot (`Snapshots.restore` with its push). */
    restore(tenant: string, workspaceId: string, snapshotId: string): Promise<SnapshotView>;
  };
  /** Forks of workspaces and conversations; rewinds of conversations. */
  forks: Pick<ForkService, 'forkWorkspace' | 'forkConversation' | 'rewind'>;
  /** Runs commands in workspace containers. */
  exec: Pick<ExecService, 'start'>;
  /** Reaches the hosts that hold a workspace's container or cache its egress policy. */
  control: Pick<CrossHostControl, 'egressChanged'>;
  agentSettings: AgentSettingsService;
  usage: UsageService;
  events: RunEventLog;
  files: FilesService;
  /** Workspace archives, out (tar.gz, zip) and in (tar, tar.gz, zip). */
  archives: Pick<ArchiveService, 'download' | 'upload'>;
  /** Interactive shells in workspace containers (the terminal WebSocket). */
  terminals: Pick<TerminalService, 'open'>;
  egress: { policies: PolicyStore; audit: AuditTrail };
  secrets: SecretStore;
  webhooks: WebhookRegistry;
  health: HealthChecks;
  /** Refuses new work while a store is down (operations marked `newWork`). */
  dependencies?: Pick<DependencyWatch, 'assertAvailable'>;
  metrics: WorkcellMetrics;
  /** Container records and the engine, for the admin view. */
  state: StateStore;
  runtime: ContainerRuntime;
  logger: Logger;
  limits: {
    maxFileBytes: number;
    maxJsonBytes: number;
    maxExecOutputBytes: number;
    maxArchiveBytes: number;
  };
  /** Browser origins allowed to call the API (CORS); none when unset. */
  corsOrigins?: readonly string[];
  /** The host's version, in the OpenAPI document. */
  version: string;
  /** The web console's built files, served at `/`; null when it was not built. */
  console?: ConsoleAssets | null;
  /** What the Managed Agents API needs beyond these; without it its routes answer 501. */
  managedAgents?: ManagedAgentsSettings;
}

/** One route the server has (HEAD routes Fastify adds for GET are left out). */
export interface RouteEntry {
  method: string;
  url: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal;
    /** The grant of the ticket that authenticated the request; null for a token. */
    ticket: TicketGrant | null;
  }
  interface FastifyInstance {
    /** Every route registered, as Fastify saw it (for the OpenAPI completeness check). */
    routeTable: readonly RouteEntry[];
    /** Ends every open SSE stream (shutdown). */
    endEventStreams(): void;
  }
}
