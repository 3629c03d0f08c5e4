import type { McpServer, RunOptions } from '@workcell/protocol';
import type { AgentSettings } from './schema.js';

/**
 * Merges layers of settings, earliest first (operator defaults, the workspace's, one
 * message's). A later layer's value replaces an earlier one's, except that
 * `appendSystemPrompt` texts are appended in turn and `env` and `mcpServers` are merged by
 * name (a later entry of the same name wins).
 */
export function mergeSettings(...layers: readonly (AgentSettings | undefined)[]): AgentSettings {
  const merged: AgentSettings = {};
  for (const layer of layers) {
    if (!layer) continue;
    const { appendSystemPrompt, env, mcpServers, ...rest } = layer;
    for (const [key, value] of Object.entries(rest))
      if (value !== undefined) (merged as Record<string, unknown>)[key] = value;
    if (appendSystemPrompt)
      merged.appendSystemPrompt = merged.appendSystemPrompt
        ? `${merged.appendSystemPrompt}\n\n${appendSystemPrompt}`
        : appendSystemPrompt;
    if (env) merged.env = { ...merged.env, ...env };
    if (mcpServers) merged.mcpServers = { ...merged.mcpServers, ...mcpServers };
  }
  return merged;
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
