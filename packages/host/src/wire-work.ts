import type { Logger } from 'pino';
import type { AgentSettingsService } from './agent-settings/index.js';
import { ApprovalService, approvalSettings } from './approvals/index.js';
import type { Catalog } from './catalog/catalog.js';
import type { ResolvedConfig } from './config/load.js';
import type { Orchestrator } from './containers/orchestrator.js';
import type { ContainerRuntime } from './containers/runtime.js';
import type { SlotStore } from './containers/slots.js';
import type { TerminalActivity } from './containers/terminal-activity.js';
import type { ControlBus } from './control/control-bus.js';
import type { ControlMessages } from './control/control-messages.js';
import { ExecService } from './exec/exec-service.js';
import { ExecuteService } from './execute/execute-service.js';
import { EVENT_BUFFER_TTL_MS, type RunEventLog } from './execute/run-events.js';
import type { WorkcellMetrics } from './metrics/metrics.js';
import type { SecretStore } from './secrets/secret-store.js';
import type { StateStore } from './state/state-store.js';
import { TerminalService } from './terminal/terminal-service.js';
import type { Clock } from './time/clock.js';
import type { WebhookPublisher } from './webhooks/index.js';
import type { StoreRetry } from './dependencies/retry.js';
import type { Workspaces } from './workspace/hold.js';

/**
 * Builds what holds a workspace for work: runs (messages, with their approvals and client tool
 * calls), execs and terminals.
 */
export function wireWork(
  config: ResolvedConfig,
  deps: {
    catalog: Catalog;
    workspaces: Workspaces;
    state: StateStore;
    events: RunEventLog;
    clock: Clock;
    log: (component: string) => Logger;
    metrics: WorkcellMetrics;
    secrets: SecretStore;
    webhooks: WebhookPublisher;
    agentSettings: AgentSettingsService;
    messages: ControlMessages;
    runtime: ContainerRuntime;
    orchestrator: Orchestrator;
    slots: SlotStore;
    terminalActivity: TerminalActivity;
    bus: ControlBus;
    storeRetry: StoreRetry;
  },
) {
  const { catalog, workspaces, state, events, clock, log, metrics, secrets, webhooks } = deps;
  const { agentSettings, messages, runtime, orchestrator, slots, terminalActivity } = deps;
  const { hostId } = config;
  const placeholders = (tenant: string, workspaceId: string): Promise<Record<string, string>> =>
    secrets.placeholders(tenant, workspaceId);
  const approvals = new ApprovalService({
    state,
    catalog,
    bus: deps.bus,
    clock,
    hostId,
    webhooks,
    logger: log('approvals'),
    settings: approvalSettings(config),
  });
  const execute = new ExecuteService({
    approvals,
    catalog,
    workspaces,
    state,
    events,
    clock,
    observer: metrics,
    runEnv: placeholders,
    webhooks,
    agentSettings,
    remote: messages,
    hostId: config.hostId,
    storeRetry: deps.storeRetry,
    reaches: (containerId) => orchestrator.reaches(containerId),
    logger: log('execute'),
    settings: {
      runTimeoutMs: config.runTimeoutMs,
      maxPromptBytes: config.maxPromptBytes,
      maxImageBytes: config.maxImageBytes,
      eventBufferTtlMs: EVENT_BUFFER_TTL_MS,
      handOverRuns: state.kind === 'redis',
      foreignRunGraceMs: config.foreignRunGraceMs,
    },
  });
  const exec = new ExecService({
    catalog,
    workspaces,
    runtime,
    clock,
    placeholders,
    agentEnv: (tenant, workspaceId) => agentSettings.toolEnv(tenant, workspaceId),
    observer: metrics,
    logger: log('exec'),
    settings: {
      timeoutMs: config.execTimeoutMs,
      env: { provider: config.modelProvider, awsRegion: config.awsRegion },
    },
  });
  const terminals = new TerminalService({
    containers: orchestrator,
    workspaces,
    runtime,
    state,
    slots,
    activity: terminalActivity,
    observer: metrics,
    clock,
    logger: log('terminal'),
    hostId,
    settings: {
      idleTimeoutMs: config.terminalIdleTimeoutMs,
      maxPerWorkspace: config.terminalMaxPerWorkspace,
      maxPerHost: config.terminalMaxPerHost,
    },
  });
  return { execute, approvals, exec, terminals };
}
