import type { RunOptions } from '@workcell/protocol';
import type { EgressPattern } from '@workcell/proxy';
import { mcpEgressPatterns } from './mcp-hosts.js';
import { mergeSettings, redactSettings, toRunOptions } from './merge.js';
import type { AgentSettingsPolicy } from './policy.js';
import type { AgentSettings, MessageAgentSettings } from './schema.js';
import type { AgentSettingsStore } from './store.js';

/** One run's settings. */
export interface ResolvedAgent {
  /** Operator defaults <- the workspace's settings <- the message's overrides. */
  effective: AgentSettings;
  /** The effective settings with nothing secret in them, for `run.started`. */
  view: AgentSettings;
  /** What the agent receives. */
  options: RunOptions;
}

/** A workspace's settings and what they come to with the operator's defaults. */
export interface WorkspaceAgentView {
  workspaceId: string;
  settings: AgentSettings;
  effective: AgentSettings;
}

/**
 * The three layers of agent settings: reads and writes the workspace layer, checks client
 * layers against the operator's policy, and resolves a run's effective settings. Settings are
 * read from the object store for every run, so a change made while a run is in progress (on
 * any host) applies from the next message.
 */
export class AgentSettingsService {
  constructor(
    private readonly deps: {
      store: AgentSettingsStore;
      policy: AgentSettingsPolicy;
      /** Called after a workspace's settings change (its MCP hosts join its egress policy). */
      changed?: (tenant: string, workspaceId: string) => Promise<void>;
    },
  ) {}

  /**
   * Checks a workspace layer a client sent (the schema has parsed it already): the operator's
   * rules, and that every MCP server's host can join an egress policy. Throws a WorkcellError.
   */
  check(settings: AgentSettings): void {
    this.deps.policy.checkClientLayer(settings);
    mcpEgressPatterns(settings);
  }

  async get(tenant: string, workspaceId: string): Promise<WorkspaceAgentView> {
    const settings = await this.deps.store.get(tenant, workspaceId);
    return {
      workspaceId,
      settings,
      effective: mergeSettings(this.deps.policy.defaults, settings),
    };
  }

  /** Replaces the workspace's settings after checking them; nothing changes when they fail. */
  async put(
    tenant: string,
    workspaceId: string,
    settings: AgentSettings,
  ): Promise<WorkspaceAgentView> {
    this.check(settings);
    await this.deps.store.put(tenant, workspaceId, settings);
    await this.deps.changed?.(tenant, workspaceId);
    return {
      workspaceId,
      settings,
      effective: mergeSettings(this.deps.policy.defaults, settings),
    };
  }

  /**
   * A run's settings. Throws `model_not_allowed` / `system_prompt_not_allowed` for overrides
   * the operator does not allow, and `model_not_allowed` when the workspace's stored model has
   * left `WORKCELL_MODELS_ALLOWED` since it was set.
   */
  async resolve(
    tenant: string,
    workspaceId: string,
    overrides: MessageAgentSettings | undefined,
  ): Promise<ResolvedAgent> {
    const { policy, store } = this.deps;
    policy.checkClientLayer(overrides);
    const workspace = await store.get(tenant, workspaceId);
    const effective = mergeSettings(policy.defaults, workspace, overrides);
    if (effective.model !== undefined) policy.checkModel(effective.model);
    return { effective, view: redactSettings(effective), options: toRunOptions(effective) };
  }

  /**
   * The environment the workspace's agent gives its tools (its `env` over the operator's), for
   * commands run beside it (`exec/`); no model rule applies, as no model is used.
   */
  async toolEnv(tenant: string, workspaceId: string): Promise<Record<string, string>> {
    const workspace = await this.deps.store.get(tenant, workspaceId);
    return mergeSettings(this.deps.policy.defaults, workspace).env ?? {};
  }

  /** The egress patterns of the workspace's MCP servers (the operator's and its own). */
  async mcpEgress(tenant: string, workspaceId: string): Promise<EgressPattern[]> {
    return workspaceMcpEgress(this.deps)(tenant, workspaceId);
  }
}

/**
 * The egress patterns a workspace's MCP servers need (its stored settings over the operator's
 * defaults), read from the store alone, so the egress policy can ask before the service exists.
 */
export function workspaceMcpEgress(deps: {
  store: Pick<AgentSettingsStore, 'get'>;
  policy: Pick<AgentSettingsPolicy, 'defaults'>;
}): (tenant: string, workspaceId: string) => Promise<EgressPattern[]> {
  return async (tenant, workspaceId) =>
    mcpEgressPatterns(
      mergeSettings(deps.policy.defaults, await deps.store.get(tenant, workspaceId)),
    );
}
