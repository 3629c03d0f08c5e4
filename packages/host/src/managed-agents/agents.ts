import { isDeepStrictEqual } from 'node:util';
import { TOOLSET_TOOL_NAMES, toolsetNameOf, type ToolsetToolName } from '@workcell/protocol';
import type { z } from 'zod';
import { AnthropicApiError, conflict, notFound, unsupported } from './errors.js';
import { newResourceId } from './ids.js';
import type { RecordStore } from './record-store.js';
import type {
  AgentCreateBody,
  AgentUpdateBody,
  agentToolsetParams,
  customToolParams,
  mcpServerParams,
  mcpToolsetParams,
  modelParams,
} from './schemas.js';

type Policy = { type: 'always_allow' | 'always_ask' };
type ToolConfig = { name: string; type?: string; enabled: boolean; permission_policy: Policy };

export interface AgentToolset {
  type: 'agent_toolset_20260401';
  configs: ToolConfig[];
  default_config: { enabled: boolean; permission_policy: Policy };
}
export interface McpToolset {
  type: 'mcp_toolset';
  mcp_server_name: string;
  configs: Omit<ToolConfig, 'type'>[];
  default_config: { enabled: boolean; permission_policy: Policy };
}
export type CustomTool = z.infer<typeof customToolParams>;
export type AgentTool = AgentToolset | McpToolset | CustomTool;

/** One immutable version of an agent, in the SDK's `BetaManagedAgentsAgent` shape. */
export interface AgentVersion {
  id: string;
  type: 'agent';
  version: number;
  name: string;
  description: string | null;
  model: { id: string; speed?: 'standard' | 'fast' };
  system: string | null;
  tools: AgentTool[];
  mcp_servers: z.infer<typeof mcpServerParams>[];
  metadata: Record<string, string>;
  skills: [];
  multiagent: null;
  execution_identity: { type: 'service_account' };
  created_at: string;
  updated_at: string;
  archived_at: string | null;
}

interface AgentRecord {
  versions: AgentVersion[];
}

function invalid(message: string): AnthropicApiError {
  return new AnthropicApiError('invalid_request_error', message);
}

const ALLOW: Policy = { type: 'always_allow' };

function model(value: z.infer<typeof modelParams>): AgentVersion['model'] {
  if (typeof value === 'string') return { id: value, speed: 'standard' };
  return { id: value.id, speed: value.speed ?? 'standard' };
}

function toolset(params: z.infer<typeof agentToolsetParams>): AgentToolset {
  const defaults = {
    enabled: params.default_config?.enabled ?? true,
    permission_policy: params.default_config?.permission_policy ?? ALLOW,
  };
  const configs = (params.configs ?? []).map((c) => ({
    name: c.name,
    type: c.name,
    enabled: c.enabled ?? defaults.enabled,
    permission_policy: c.permission_policy ?? defaults.permission_policy,
  }));
  return { type: 'agent_toolset_20260401', configs, default_config: defaults };
}

function mcpToolset(params: z.infer<typeof mcpToolsetParams>): McpToolset {
  const defaults = {
    enabled: params.default_config?.enabled ?? true,
    permission_policy: params.default_config?.permission_policy ?? ALLOW,
  };
  return {
    type: 'mcp_toolset',
    mcp_server_name: params.mcp_server_name,
    configs: (params.configs ?? []).map((c) => ({
      name: c.name,
      enabled: c.enabled ?? defaults.enabled,
      permission_policy: c.permission_policy ?? defaults.permission_policy,
    })),
    default_config: defaults,
  };
}

/**
 * Checks what an agent's tools ask of the engine. Tool confirmations (`always_ask`) and custom
 * tools need the engine's approvals and client tools; until the engine offers them they answer
 * 400 naming the feature (`ENGINE_FEATURES` is the one switch).
 */
export const ENGINE_FEATURES = { toolConfirmations: true, customTools: true };

function normaliseTools(
  tools: AgentCreateBody['tools'],
  servers: AgentVersion['mcp_servers'],
): AgentTool[] {
  const out: AgentTool[] = [];
  const names = new Set(servers.map((s) => s.name));
  let toolsets = 0;
  for (const tool of tools ?? []) {
    if (tool.type === 'agent_toolset_20260401') {
      toolsets += 1;
      if (toolsets > 1) throw invalid('tools: at most one agent_toolset_20260401');
      out.push(toolset(tool));
    } else if (tool.type === 'mcp_toolset') {
      if (!names.has(tool.mcp_server_name))
        throw invalid(
          `tools: mcp_toolset names ${tool.mcp_server_name}, which is not in mcp_servers`,
        );
      out.push(mcpToolset(tool));
    } else {
      if (!ENGINE_FEATURES.customTools) throw unsupported('custom tools (tools[].type "custom")');
      out.push(tool);
    }
  }
  if (!ENGINE_FEATURES.toolConfirmations) {
    for (const tool of out) {
      if (tool.type === 'custom') continue;
      const policies = [
        tool.default_config.permission_policy,
        ...tool.configs.map((c) => c.permission_policy),
      ];
      if (policies.some((p) => p.type === 'always_ask'))
        throw unsupported('tool confirmations (permission_policy "always_ask")');
    }
  }
  return out;
}

/** The names the toolset offers the model, in the toolset's terms. */
export function enabledToolsetTools(tools: readonly AgentTool[]): ToolsetToolName[] {
  const set = tools.find((t): t is AgentToolset => t.type === 'agent_toolset_20260401');
  if (!set) return [];
  return TOOLSET_TOOL_NAMES.filter(
    (name) => set.configs.find((c) => c.name === name)?.enabled ?? set.default_config.enabled,
  );
}

function applyMetadata(
  current: Record<string, string>,
  patch: Record<string, string | null> | null | undefined,
): Record<string, string> {
  if (patch === undefined) return current;
  if (patch === null) return {};
  const next = { ...current };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete next[k];
    else next[k] = v;
  }
  return next;
}

/** Agents: each update is a new immutable version; archive makes the agent read-only. */
export class AgentService {
  constructor(
    private readonly records: RecordStore,
    private readonly checkModel: (model: string) => void,
    private readonly clock: () => number = Date.now,
  ) {}

  private async record(tenant: string, id: string): Promise<AgentRecord> {
    const record = await this.records.get<AgentRecord>(tenant, 'agents', id);
    if (!record) throw notFound('agent', id);
    return record;
  }

  async create(tenant: string, body: AgentCreateBody): Promise<AgentVersion> {
    const now = new Date(this.clock()).toISOString();
    const servers = body.mcp_servers ?? [];
    const agent: AgentVersion = {
      id: newResourceId('agent', this.clock()),
      type: 'agent',
      version: 1,
      name: body.name,
      description: body.description ?? null,
      model: model(body.model),
      system: body.system ?? null,
      tools: normaliseTools(body.tools, servers),
      mcp_servers: servers,
      metadata: body.metadata ?? {},
      skills: [],
      multiagent: null,
      execution_identity: { type: 'service_account' },
      created_at: now,
      updated_at: now,
      archived_at: null,
    };
    this.checkModel(agent.model.id);
    await this.records.put(tenant, 'agents', agent.id, { versions: [agent] } satisfies AgentRecord);
    return agent;
  }

  /** The latest version, or `version` when given. */
  async retrieve(tenant: string, id: string, version?: number): Promise<AgentVersion> {
    const { versions } = await this.record(tenant, id);
    const found =
      version === undefined ? versions.at(-1) : versions.find((v) => v.version === version);
    if (!found) throw notFound('agent version', `${id}@${version ?? 'latest'}`);
    return found;
  }

  /**
   * A new version with the changes; `version`, when given, must be the latest (409 otherwise).
   * An update that changes nothing answers the latest version unchanged.
   */
  async update(tenant: string, id: string, body: AgentUpdateBody): Promise<AgentVersion> {
    const record = await this.record(tenant, id);
    const latest = record.versions.at(-1) as AgentVersion;
    if (latest.archived_at) throw conflict(`agent ${id} is archived`);
    if (body.version !== undefined && body.version !== latest.version)
      throw conflict(`agent ${id} is at version ${latest.version}, not ${body.version}`);
    const servers = body.mcp_servers === undefined ? latest.mcp_servers : (body.mcp_servers ?? []);
    const next: AgentVersion = {
      ...latest,
      name: body.name ?? latest.name,
      description: body.description === undefined ? latest.description : body.description,
      model: body.model === undefined ? latest.model : model(body.model),
      system: body.system === undefined ? latest.system : body.system,
      tools: body.tools === undefined ? latest.tools : normaliseTools(body.tools ?? [], servers),
      mcp_servers: servers,
      metadata: applyMetadata(latest.metadata, body.metadata),
    };
    if (body.tools === undefined && body.mcp_servers !== undefined) {
      const names = new Set(servers.map((s) => s.name));
      for (const t of next.tools)
        if (t.type === 'mcp_toolset' && !names.has(t.mcp_server_name))
          throw invalid(
            `tools: mcp_toolset names ${t.mcp_server_name}, which is not in mcp_servers`,
          );
    }
    if (isDeepStrictEqual(next, latest)) return latest;
    this.checkModel(next.model.id);
    const version: AgentVersion = {
      ...next,
      version: latest.version + 1,
      updated_at: new Date(this.clock()).toISOString(),
    };
    record.versions.push(version);
    await this.records.put(tenant, 'agents', id, record);
    return version;
  }

  /** The tenant's agents (latest versions), newest first; archived ones only when asked. */
  async list(tenant: string, includeArchived: boolean): Promise<AgentVersion[]> {
    const records = await this.records.list<AgentRecord>(tenant, 'agents');
    return records
      .map((r) => r.versions.at(-1) as AgentVersion)
      .filter((a) => includeArchived || a.archived_at === null)
      .reverse();
  }

  /** Every version, newest first. */
  async versions(tenant: string, id: string): Promise<AgentVersion[]> {
    return [...(await this.record(tenant, id)).versions].reverse();
  }

  async archive(tenant: string, id: string): Promise<AgentVersion> {
    const record = await this.record(tenant, id);
    const latest = record.versions.at(-1) as AgentVersion;
    if (latest.archived_at) return latest;
    const now = new Date(this.clock()).toISOString();
    record.versions = record.versions.map((v) => ({ ...v, archived_at: now }));
    await this.records.put(tenant, 'agents', id, record);
    return record.versions.at(-1) as AgentVersion;
  }
}

/**
 * How the agent's policy treats a tool, by the name the model calls it: a toolset tool by its
 * Claude Code name, an MCP tool as `mcp__<server>__<tool>`; anything else is allowed.
 */
export function policyOf(
  agent: Pick<AgentVersion, 'tools'>,
): (toolName: string) => 'allow' | 'ask' {
  return (toolName) => {
    const toolset = toolsetNameOf(toolName);
    if (toolset) {
      const set = agent.tools.find((t): t is AgentToolset => t.type === 'agent_toolset_20260401');
      const policy =
        set?.configs.find((c) => c.name === toolset)?.permission_policy ??
        set?.default_config.permission_policy;
      return policy?.type === 'always_ask' ? 'ask' : 'allow';
    }
    const mcp = /^mcp__(.+?)__(.+)$/.exec(toolName);
    if (!mcp) return 'allow';
    const set = agent.tools.find(
      (t): t is McpToolset => t.type === 'mcp_toolset' && t.mcp_server_name === mcp[1],
    );
    const policy =
      set?.configs.find((c) => c.name === mcp[2])?.permission_policy ??
      set?.default_config.permission_policy;
    return policy?.type === 'always_ask' ? 'ask' : 'allow';
  };
}
