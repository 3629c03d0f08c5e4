import {
  MCP_SERVER_NAME,
  PERMISSION_MODES,
  SETTING_SOURCES,
  mcpServerSchema,
  modelIdSchema,
  checkEnvNames,
  thinkingSchema,
  toolListSchema,
} from './agent-options.js';
import { clientToolsSchema, permissionsSchema } from './approvals.js';
import { z } from 'zod';

/**
 * The one schema of an agent's settings. It validates the operator's defaults
 * (`WORKCELL_AGENT_DEFAULTS`), a workspace's settings (`PUT /v1/workspaces/:wid/agent`,
 * `POST /v1/workspaces`) and, less `mcpServers`, one message's overrides; the OpenAPI
 * document is generated from it. Rules that depend on the operator's configuration (the model
 * list, whether the system prompt may be replaced) are checked by `AgentSettingsPolicy`.
 */

const MAX_ENV_VARIABLES = 100;
const MAX_MCP_SERVERS = 20;
const MAX_PROMPT_CHARS = 100_000;

const envSchema = z
  .record(z.string(), z.string().max(32_768))
  .superRefine(checkEnvNames(MAX_ENV_VARIABLES))
  .describe(
    'non-secret environment variables for the agent and its tools; names that could route around the proxy or reach credentials (`*_PROXY`, `ANTHROPIC_*`, `AWS_*`, `CLAUDE_*`, `NODE_*`, `LD_*`, ...) are refused with `env_not_allowed`',
  );

const mcpServersSchema = z
  .record(
    z.string().regex(MCP_SERVER_NAME, 'a name of 1-64 letters, digits, _ or -'),
    mcpServerSchema,
  )
  .refine((s) => Object.keys(s).length <= MAX_MCP_SERVERS, `at most ${MAX_MCP_SERVERS} servers`)
  .describe(
    'remote MCP servers by name (their tools are `mcp__<name>__<tool>`); each host joins the workspace egress policy',
  );

export const agentSettingsSchema = z
  .object({
    model: modelIdSchema
      .optional()
      .describe('the model; must be in `WORKCELL_MODELS_ALLOWED` when that is set'),
    systemPrompt: z
      .string()
      .min(1)
      .max(MAX_PROMPT_CHARS)
      .optional()
      .describe(
        "a system prompt that replaces Claude Code's entirely; refused (`system_prompt_not_allowed`) unless the operator allows it",
      ),
    appendSystemPrompt: z
      .string()
      .min(1)
      .max(MAX_PROMPT_CHARS)
      .optional()
      .describe("instructions appended to the system prompt (each layer's are appended in turn)"),
    settingSources: z
      .array(z.enum(SETTING_SOURCES))
      .max(SETTING_SOURCES.length)
      .optional()
      .describe(
        'workspace settings the CLI reads: `project` (CLAUDE.md, .claude/settings.json), `local` (.claude/settings.local.json); default both',
      ),
    allowedTools: toolListSchema
      .optional()
      .describe('tools that run without asking (permission rules such as `Bash(npm test:*)`)'),
    disallowedTools: toolListSchema
      .optional()
      .describe('tools removed from the agent (they are not offered to the model)'),
    maxTurns: z.number().int().min(1).max(1000).optional().describe('model turns per message'),
    permissionMode: z
      .enum(PERMISSION_MODES)
      .optional()
      .describe(
        '`bypassPermissions` (default: no prompts; the container is the sandbox), `acceptEdits`, `default`, `dontAsk` (only allowed tools run) or `plan`',
      ),
    thinking: thinkingSchema.optional(),
    permissions: permissionsSchema.optional(),
    clientTools: clientToolsSchema.optional(),
    mcpServers: mcpServersSchema.optional(),
    env: envSchema.optional(),
  })
  .strict()
  .describe("an agent's settings; every field is optional");
export type AgentSettings = z.infer<typeof agentSettingsSchema>;

/** One message's overrides: the same settings but MCP servers, which are set per workspace. */
export const messageAgentSchema = agentSettingsSchema
  .omit({ mcpServers: true })
  .describe("one message's overrides of the workspace's agent settings");
export type MessageAgentSettings = z.infer<typeof messageAgentSchema>;
