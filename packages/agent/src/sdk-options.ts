import type {
  McpHttpServerConfig,
  McpSSEServerConfig,
  Options,
  SDKUserMessage,
} from '@anthropic-ai/claude-agent-sdk';
import { refusedEnvName, type RunRequest } from '@workcell/protocol';
import { sdkEnvironment, type AgentSettings } from './sdk-env.js';

/** Setting sources when the host names none: the workspace's CLAUDE.md and .claude/ settings. */
const DEFAULT_SETTING_SOURCES = ['project', 'local'] as const;

/**
 * The SDK's `query()` options for one run: the host's resolved settings on top of the
 * container's fixed ones. The working directory, the CLI, its environment (every model and
 * tool request through the egress bridge) and the session are the container's; a workspace's
 * `env` is added under them, so it cannot replace one of them.
 */
export function sdkOptions(
  settings: AgentSettings,
  request: RunRequest,
  run: Pick<Options, 'abortController' | 'stderr'>,
): Options {
  const o = request.options ?? {};
  const permissionMode = o.permissionMode ?? 'bypassPermissions';
  const userEnv = Object.fromEntries(
    Object.entries(o.env ?? {}).filter(([name]) => refusedEnvName(name) === null),
  );
  const env = {
    ...userEnv,
    ...sdkEnvironment(settings, process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', request.env),
  };
  return {
    ...run,
    cwd: settings.workspaceDir,
    pathToClaudeCodeExecutable: settings.claudeExecutable,
    includePartialMessages: true,
    env,
    permissionMode,
    ...(permissionMode === 'bypassPermissions' ? { allowDangerouslySkipPermissions: true } : {}),
    settingSources: [...(o.settingSources ?? DEFAULT_SETTING_SOURCES)],
    // The prompt is rendered on every request, so a changed append applies from the next message.
    systemPrompt:
      o.systemPrompt?.type === 'custom'
        ? { type: 'custom', prompt: o.systemPrompt.prompt, snapshot: false }
        : {
            type: 'preset',
            preset: 'claude_code',
            snapshot: false,
            ...(o.systemPrompt?.append ? { append: o.systemPrompt.append } : {}),
          },
    ...(request.resumeSessionId ? { resume: request.resumeSessionId } : {}),
    ...(o.model ? { model: o.model } : {}),
    ...(o.maxTurns ? { maxTurns: o.maxTurns } : {}),
    ...(o.allowedTools ? { allowedTools: o.allowedTools } : {}),
    ...(o.disallowedTools ? { disallowedTools: o.disallowedTools } : {}),
    ...(o.thinking ? { thinking: o.thinking } : {}),
    ...(o.mcpServers && Object.keys(o.mcpServers).length > 0
      ? { mcpServers: mcpServersOf(o.mcpServers), mcpServersDelivery: 'initialize' as const }
      : {}),
  };
}

/**
 * The workspace's remote MCP servers, each loaded before the first model turn (`alwaysLoad`):
 * a hosted agent answers one message per process, so a server still connecting when the turn
 * starts would be missing from it. Servers are delivered over stdin, never the command line.
 */
function mcpServersOf(
  servers: NonNullable<NonNullable<RunRequest['options']>['mcpServers']>,
): Record<string, McpHttpServerConfig | McpSSEServerConfig> {
  return Object.fromEntries(
    Object.entries(servers).map(([name, server]) => [name, { ...server, alwaysLoad: true }]),
  );
}

/**
 * The SDK prompt: a string as is; content blocks as one streamed user message, which is how
 * the SDK takes images.
 */
export function promptOf(request: RunRequest): string | AsyncIterable<SDKUserMessage> {
  const content = request.prompt;
  if (typeof content === 'string') return content;
  return (async function* () {
    yield {
      type: 'user',
      message: { role: 'user', content },
      parent_tool_use_id: null,
    } satisfies SDKUserMessage;
  })();
}
