import {
  createSdkMcpServer,
  tool,
  type CanUseTool,
  type McpHttpServerConfig,
  type McpSdkServerConfigWithInstance,
  type McpSSEServerConfig,
  type Options,
  type SDKUserMessage,
} from '@anthropic-ai/claude-agent-sdk';
import {
  CLIENT_TOOL_SERVER,
  refusedEnvName,
  zodOfJsonSchema,
  type ClientTool,
  type RunRequest,
} from '@workcell/protocol';
import { z } from 'zod';
import type { RunGate } from './gate.js';
import { sdkEnvironment, type AgentSettings } from './sdk-env.js';

/**
 * Where the SDK's callbacks find the run in progress: a ready process is started before its
 * run exists, so its callbacks look the run's gate up when they are called.
 */
export interface GateSource {
  current(): RunGate | null;
}

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
  gates?: GateSource,
): Options {
  const o = request.options ?? {};
  const clientTools = o.clientTools ?? [];
  const clientServer =
    gates && clientTools.length > 0 ? clientToolServer(clientTools, gates) : null;
  const remoteServers = o.mcpServers ?? {};
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
    ...permissionSettings(o.permissions, clientTools.length > 0),
    ...(gates && (o.permissions?.ask?.length ?? 0) > 0 ? { canUseTool: askGate(gates) } : {}),
    ...(Object.keys(remoteServers).length > 0 || clientServer
      ? {
          mcpServers: {
            ...mcpServersOf(remoteServers),
            ...(clientServer ? { [CLIENT_TOOL_SERVER]: clientServer } : {}),
          },
          mcpServersDelivery: 'initialize' as const,
        }
      : {}),
  };
}

/**
 * The run's permission rules as the CLI's flag settings, where it evaluates them itself (deny,
 * then ask, then allow; anything else follows the permission mode). Client tools are allowed
 * unless a rule says otherwise.
 */
function permissionSettings(
  permissions: NonNullable<RunRequest['options']>['permissions'],
  hasClientTools: boolean,
): Pick<Options, 'settings'> {
  const allow = [
    ...(permissions?.allow ?? []),
    ...(hasClientTools ? [`mcp__${CLIENT_TOOL_SERVER}`] : []),
  ];
  const ask = permissions?.ask ?? [];
  const deny = permissions?.deny ?? [];
  if (allow.length + ask.length + deny.length === 0) return {};
  return {
    settings: {
      permissions: {
        ...(allow.length > 0 ? { allow } : {}),
        ...(ask.length > 0 ? { ask } : {}),
        ...(deny.length > 0 ? { deny } : {}),
      },
    },
  };
}

/**
 * The SDK's permission callback: the CLI calls it for a call an `ask` rule matches (and, under
 * a mode that prompts, for a call no rule allows); the run's gate asks the client.
 */
function askGate(gates: GateSource): CanUseTool {
  return async (toolName, input, options) => {
    const gate = gates.current();
    if (!gate)
      return { behavior: 'deny', message: 'No run is in progress to ask about this call.' };
    return gate.approve(toolName, input, options.toolUseID ?? null, options.signal);
  };
}

/**
 * The client's tools as an in-process MCP server: each call waits for the client's result
 * through the run's gate. A schema zod cannot read as an object is offered as a loose object.
 */
function clientToolServer(
  tools: readonly ClientTool[],
  gates: GateSource,
): McpSdkServerConfigWithInstance {
  return createSdkMcpServer({
    name: CLIENT_TOOL_SERVER,
    alwaysLoad: true,
    tools: tools.map((t) =>
      tool(t.name, t.description, shapeOf(t.inputSchema), async (args, extra) => {
        const gate = gates.current();
        if (!gate)
          return { content: [{ type: 'text', text: 'No run is in progress.' }], isError: true };
        const signal =
          (extra as { signal?: AbortSignal } | undefined)?.signal ?? new AbortController().signal;
        return gate.callClientTool(t.name, args as Record<string, unknown>, signal);
      }),
    ),
  });
}

function shapeOf(schema: Record<string, unknown>): z.ZodRawShape {
  try {
    const parsed = zodOfJsonSchema(schema);
    if (parsed instanceof z.ZodObject) return parsed.shape;
  } catch {
    // The host checked the schema; an agent that reads it differently offers a loose object.
  }
  return {};
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
