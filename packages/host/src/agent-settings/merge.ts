import type { ClientTool, McpServer, Permissions, RunOptions } from '@workcell/protocol';
import type { AgentSettings } from './schema.js';

/**
 * Merges layers of settings, earliest first (operator defaults, the workspace's, one
 * message's). A later layer's value replaces an earlier one's, except that
 * `appendSystemPrompt` texts are appended in turn, `env`, `mcpServers` and `clientTools` are
 * merged by name (a later entry of the same name wins), and `permissions` rules are added to
 * the earlier layers' (so a later layer cannot drop an earlier `ask` or `deny`).
 */
export function mergeSettings(...layers: readonly (AgentSettings | undefined)[]): AgentSettings {
  const merged: AgentSettings = {};
  for (const layer of layers) {
    if (!layer) continue;
    const { appendSystemPrompt, env, mcpServers, permissions, clientTools, ...rest } = layer;
    for (const [key, value] of Object.entries(rest))
      if (value !== undefined) (merged as Record<string, unknown>)[key] = value;
    if (appendSystemPrompt)
      merged.appendSystemPrompt = merged.appendSystemPrompt
        ? `${merged.appendSystemPrompt}\n\n${appendSystemPrompt}`
        : appendSystemPrompt;
    if (env) merged.env = { ...merged.env, ...env };
    if (mcpServers) merged.mcpServers = { ...merged.mcpServers, ...mcpServers };
    if (permissions) merged.permissions = mergePermissions(merged.permissions, permissions);
    if (clientTools) merged.clientTools = mergeClientTools(merged.clientTools, clientTools);
  }
  return merged;
}

function mergePermissions(earlier: Permissions | undefined, later: Permissions): Permissions {
  const out: Permissions = {};
  for (const list of ['allow', 'ask', 'deny'] as const) {
    const rules = [...new Set([...(earlier?.[list] ?? []), ...(later[list] ?? [])])];
    if (rules.length > 0) out[list] = rules;
  }
  return out;
}

function mergeClientTools(
  earlier: readonly ClientTool[] | undefined,
  later: readonly ClientTool[],
): ClientTool[] {
  const byName = new Map<string, ClientTool>();
  for (const tool of [...(earlier ?? []), ...later]) byName.set(tool.name.toLowerCase(), tool);
  return [...byName.values()];
}

/** The run options the agent receives for effective settings. */
export function toRunOptions(settings: AgentSettings): RunOptions {
  const { systemPrompt, appendSystemPrompt, ...rest } = settings;
  return {
    ...rest,
    systemPrompt: systemPrompt
      ? {
          type: 'custom',
          prompt: appendSystemPrompt ? `${systemPrompt}\n\n${appendSystemPrompt}` : systemPrompt,
        }
      : { type: 'preset', ...(appendSystemPrompt ? { append: appendSystemPrompt } : {}) },
  };
}

const REDACTED = '[redacted]';

/**
 * Settings as they may be shown in a run's events: MCP header values (which may carry a
 * token for that server) are replaced by `[redacted]`.
 */
export function redactSettings(settings: AgentSettings): AgentSettings {
  if (!settings.mcpServers) return settings;
  const mcpServers: Record<string, McpServer> = {};
  for (const [name, server] of Object.entries(settings.mcpServers)) {
    mcpServers[name] = server.headers
      ? {
          ...server,
          headers: Object.fromEntries(Object.keys(server.headers).map((h) => [h, REDACTED])),
        }
      : server;
  }
  return { ...settings, mcpServers };
}
