import {
  CLAUDE_CODE_EXTRA_TOOLS,
  TOOLSET_TOOLS,
  TOOLSET_TOOL_NAMES,
  type AgentSettings,
  type McpServer,
} from '@workcell/protocol';
import { canonicalHost } from '@workcell/proxy';
import type { AgentSettingsService } from '../agent-settings/index.js';
import type { PolicyStore } from '../egress/policy-store.js';
import type { SecretStore } from '../secrets/secret-store.js';
import {
  enabledToolsetTools,
  policyOf,
  type AgentVersion,
  type CustomTool,
  type McpToolset,
} from './agents.js';
import { egressHostsOf, packageListsOf, type Environment } from './environments.js';
import { AnthropicApiError } from './errors.js';
import { PYTHON_PACKAGES_PATH } from './package-install.js';
import type { PackageLists } from './package-specs.js';
import type { OpenCredential, VaultService } from './vaults.js';

/** The workspace secret a vault credential becomes (`vcrd_...`, lower-cased as secret names are). */
function secretNameOf(credentialId: string): string {
  return credentialId.toLowerCase();
}

function hostOf(url: string): string {
  return canonicalHost(new URL(url).hostname).value;
}

/**
 * An agent version as Workcell agent settings: the model, `system` appended to Claude Code's
 * system prompt, the toolset's enabled tools (every other built-in tool removed), the MCP
 * servers (tools of servers without an enabled `mcp_toolset` removed) with a static bearer
 * credential's placeholder as their `Authorization`, and environment-variable credentials'
 * placeholders under their `secret_name`; `PYTHONPATH` names the installed pip packages when
 * the environment has any.
 */
export function agentSettingsOf(
  agent: AgentVersion,
  placeholders: ReadonlyMap<
    string,
    { credential: OpenCredential['credential']; placeholder: string }
  >,
  packages?: PackageLists,
): AgentSettings {
  const enabled = new Set(enabledToolsetTools(agent.tools));
  const disallowed: string[] = [
    ...TOOLSET_TOOL_NAMES.filter((n) => !enabled.has(n)).map((n) => TOOLSET_TOOLS[n]),
    ...CLAUDE_CODE_EXTRA_TOOLS,
  ];
  const mcpServers: Record<string, McpServer> = {};
  const bearer = new Map<string, string>();
  const env: Record<string, string> = {};
  if (packages && packages.pip.length > 0) env.PYTHONPATH = PYTHON_PACKAGES_PATH;
  for (const { credential, placeholder } of placeholders.values()) {
    if (credential.auth.type === 'static_bearer')
      bearer.set(credential.auth.mcp_server_url, placeholder);
    else env[credential.auth.secret_name] = placeholder;
  }
  for (const server of agent.mcp_servers) {
    const token = bearer.get(server.url);
    mcpServers[server.name] = {
      type: 'http',
      url: server.url,
      ...(token ? { headers: { Authorization: `Bearer ${token}` } } : {}),
    };
    const toolset = agent.tools.find(
      (t): t is McpToolset => t.type === 'mcp_toolset' && t.mcp_server_name === server.name,
    );
    if (!toolset || !toolset.default_config.enabled) {
      if (toolset?.configs.some((c) => c.enabled))
        throw new AnthropicApiError(
          'invalid_request_error',
          `tools: enabling single tools of mcp_toolset ${server.name} whose default is disabled is not supported by this Workcell installation`,
        );
      disallowed.push(`mcp__${server.name}`);
      continue;
    }
    for (const c of toolset.configs)
      if (!c.enabled) disallowed.push(`mcp__${server.name}__${c.name}`);
  }
  const ask: string[] = [];
  const policy = policyOf(agent);
  for (const name of enabled)
    if (policy(TOOLSET_TOOLS[name]) === 'ask') ask.push(TOOLSET_TOOLS[name]);
  for (const t of agent.tools) {
    if (t.type !== 'mcp_toolset') continue;
    if (t.default_config.permission_policy.type === 'always_ask') {
      if (t.configs.some((c) => c.permission_policy.type === 'always_allow'))
        throw new AnthropicApiError(
          'invalid_request_error',
          `tools: always_allow for single tools of mcp_toolset ${t.mcp_server_name} whose default is always_ask is not supported by this Workcell installation`,
        );
      ask.push(`mcp__${t.mcp_server_name}`);
    } else
      for (const c of t.configs)
        if (c.permission_policy.type === 'always_ask')
          ask.push(`mcp__${t.mcp_server_name}__${c.name}`);
  }
  const clientTools = agent.tools
    .filter((t): t is CustomTool => t.type === 'custom')
    .map((t) => ({ name: t.name, description: t.description, inputSchema: t.input_schema }));
  return {
    model: agent.model.id,
    ...(ask.length > 0 ? { permissions: { ask } } : {}),
    ...(clientTools.length > 0 ? { clientTools } : {}),
    ...(agent.system ? { appendSystemPrompt: agent.system } : {}),
    disallowedTools: disallowed,
    ...(Object.keys(mcpServers).length > 0 ? { mcpServers } : {}),
    ...(Object.keys(env).length > 0 ? { env } : {}),
  };
}

/** Makes a session's workspace what its agent, environment and vaults say. */
export class SessionSetup {
  constructor(
    private readonly deps: {
      agentSettings: AgentSettingsService;
      secrets: SecretStore;
      policies: PolicyStore;
      egressChanged: (tenant: string, workspaceId: string) => Promise<void>;
      vaults: VaultService;
      /** The operator's package registries' hosts (`allow_package_managers`). */
      registryHosts: readonly string[];
    },
  ) {}

  /** Workspace secrets from the vaults' live credentials; answers each one's placeholder. */
  private async secretsFor(
    tenant: string,
    workspaceId: string,
    vaultIds: readonly string[],
  ): Promise<Map<string, { credential: OpenCredential['credential']; placeholder: string }>> {
    const out = new Map<
      string,
      { credential: OpenCredential['credential']; placeholder: string }
    >();
    const open = vaultIds.length > 0 ? await this.deps.vaults.open(tenant, vaultIds) : [];
    for (const { credential, value } of open) {
      const auth = credential.auth;
      const { view } = await this.deps.secrets.put(
        tenant,
        workspaceId,
        secretNameOf(credential.id),
        {
          value,
          hosts:
            auth.type === 'static_bearer'
              ? [hostOf(auth.mcp_server_url)]
              : auth.networking.allowed_hosts,
          header: auth.type === 'static_bearer' ? 'authorization' : null,
          format: null,
          headers: auth.type === 'static_bearer' || auth.injection_location.header,
          body: auth.type === 'environment_variable' && auth.injection_location.body,
        },
      );
      out.set(credential.id, { credential, placeholder: view.placeholder });
    }
    return out;
  }

  async apply(
    tenant: string,
    workspaceId: string,
    agent: AgentVersion,
    environment: Environment,
    vaultIds: readonly string[],
  ): Promise<void> {
    const placeholders = await this.secretsFor(tenant, workspaceId, vaultIds);
    await this.deps.agentSettings.put(
      tenant,
      workspaceId,
      agentSettingsOf(agent, placeholders, packageListsOf(environment)),
    );
    await this.deps.policies.set(
      tenant,
      workspaceId,
      egressHostsOf(environment, this.deps.registryHosts),
    );
    await this.deps.egressChanged(tenant, workspaceId);
  }

  /**
   * Readies a new session's workspace for its package install: the agent version is checked
   * (as `apply` would), but nothing of it is written yet (no MCP server joins the egress, no
   * vault credential becomes a secret), and the egress is only the registries' `hosts`.
   * `apply` follows once the packages are in.
   */
  async prepareInstall(
    tenant: string,
    workspaceId: string,
    agent: AgentVersion,
    hosts: string[],
  ): Promise<void> {
    this.deps.agentSettings.check(agentSettingsOf(agent, new Map()));
    await this.deps.policies.set(tenant, workspaceId, hosts);
    await this.deps.egressChanged(tenant, workspaceId);
  }

  /** Writes the vaults' current values again before a turn (a rotated credential applies). */
  async refreshSecrets(
    tenant: string,
    workspaceId: string,
    agent: AgentVersion,
    packages: PackageLists | undefined,
    vaultIds: readonly string[],
  ): Promise<void> {
    if (vaultIds.length === 0) return;
    const placeholders = await this.secretsFor(tenant, workspaceId, vaultIds);
    await this.deps.agentSettings.put(
      tenant,
      workspaceId,
      agentSettingsOf(agent, placeholders, packages),
    );
  }
}
