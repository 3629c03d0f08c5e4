import { z } from 'zod';
import {
  MCP_SERVER_NAME,
  PERMISSION_MODES,
  SETTING_SOURCES,
  mcpServerSchema,
  modelIdSchema,
  refusedEnvName,
  thinkingSchema,
  toolListSchema,
} from './agent-options.js';
import {
  approvalRequestedData,
  approvalResolvedData,
  clientToolsSchema,
  controlTokenSchema,
  permissionsSchema,
  toolRequestedData,
  toolResolvedData,
} from './approvals.js';
import { messageContentSchema } from './content.js';
import { ERROR_CODES, type ErrorCode } from './errors.js';

/**
 * The host <-> workspace-agent wire, spoken as HTTP/1.1 over the container's
 * `/run/workcell/agent.sock`:
 *
 *   GET  /health                     -> AgentHealth
 *   POST /runs            RunRequest -> 200 NDJSON stream of AgentEvent, one per line
 *   GET  /runs/:id/events?after=N    -> 200 the same stream from the event after N on
 *                                       | 404 (not the agent's latest run) | 410 `events_lost`
 *   POST /runs/:id/interrupt         -> 202 | 404
 *   POST /runs/:id/abort             -> 202 | 404 (ends the SDK turn outright)
 *   POST /runs/:id/answers/:item AgentAnswer -> 200 | 404 | 409 (header
 *                                    `x-workcell-control-token`: the run's control token, or 404)
 *   POST /ready/release              -> ReadyRelease (the host bounds ready processes per host)
 *
 * Each line carries its `seq` (from 1, no gaps) besides the event. A run goes on when its
 * connection drops; the agent keeps its events (bounded) until the next run starts, so a host
 * reads on from the last one it recorded.
 */

/** Paths inside every workspace container. */
export const CONTAINER_PATHS = {
  socketDir: '/run/workcell',
  agentSocket: '/run/workcell/agent.sock',
  /** Mounted read-only: only the host writes here. */
  egressDir: '/run/workcell-egress',
  egressSocket: '/run/workcell-egress/egress.sock',
  workspace: '/workspace',
  /** CLAUDE_CONFIG_DIR: the SDK's session transcripts, bind-mounted and synced. */
  claudeConfig: '/var/lib/workcell/claude',
  home: '/home/agent',
  /** The Workcell CA's certificate and a trust bundle with it, mounted read-only. */
  trust: '/etc/workcell/trust',
  /** The system trust bundle; the host mounts its bundle (public roots + Workcell CA) here. */
  systemBundle: '/etc/ssl/certs/ca-certificates.crt',
} as const;

/** Secret placeholders in a run's environment: `WORKCELL_SECRET_<NAME>=wcs_...`, nothing else. */
export const secretPlaceholderEnvSchema = z
  .record(
    z.string().regex(/^WORKCELL_SECRET_[A-Z][A-Z0-9_]{0,63}$/),
    z.string().regex(/^wcs_[A-Za-z0-9]{16,64}$/),
  )
  .refine((env) => Object.keys(env).length <= 200, 'at most 200 secrets');
/** Room for a request's JSON around its message content (ids, agent settings, escaping). */
const REQUEST_ENVELOPE_BYTES = 256 * 1024;

/**
 * The largest body that carries a message of `maxPromptBytes` (`WORKCELL_MAX_PROMPT_BYTES`):
 * the host API's JSON limit and the agent's `POST /runs` limit are both this, so a message the
 * host accepts is never refused by the agent.
 */
export function maxRequestBytes(maxPromptBytes: number): number {
  return maxPromptBytes + REQUEST_ENVELOPE_BYTES;
}

/** The environment variable that carries the agent's body limit into the container. */
export const AGENT_MAX_BODY_ENV = 'WORKCELL_AGENT_MAX_BODY_BYTES';

/**
 * The environment variables that configure the agent's ready processes: whether it keeps one
 * (`true`/`false`), how long one started for the next turn of a conversation waits for it
 * before it is closed, the run options (JSON, `RunOptions`) of the one a warm pool container
 * starts before it knows its workspace (the operator's defaults), and, for a container started
 * for a run, what of that run the process is started for as the agent boots (JSON,
 * `ReadyBasis`), the workspace's files being already in place.
 */
export const AGENT_READY_ENV = {
  enabled: 'WORKCELL_AGENT_PREWARM',
  idleMs: 'WORKCELL_AGENT_READY_IDLE_MS',
  options: 'WORKCELL_AGENT_READY_OPTIONS',
  firstRun: 'WORKCELL_AGENT_READY_FIRST_RUN',
} as const;

/** The egress bridge inside the container: loopback TCP to the egress socket. */
export const EGRESS_BRIDGE_PORT = 3128;

export const ROUTE_PREFIX = {
  anthropic: '/_workcell/anthropic',
  bedrock: '/_workcell/bedrock',
} as const;

/**
 * The error codes an agent may report in a `run.failed` event. The agent runs inside the
 * container and is not trusted: the host maps any other code to `agent_failed` rather than
 * let a container claim, say, `unauthorized` or `internal`.
 */
export const AGENT_ERROR_CODES = [
  'sdk_error',
  'session_lost',
  'agent_failed',
  'agent_busy',
] as const satisfies readonly ErrorCode[];

export type AgentErrorCode = (typeof AGENT_ERROR_CODES)[number];

export function isAgentErrorCode(code: ErrorCode): code is AgentErrorCode {
  return (AGENT_ERROR_CODES as readonly ErrorCode[]).includes(code);
}

export const errorBodySchema = z.object({
  code: z.enum(ERROR_CODES as [ErrorCode, ...ErrorCode[]]),
  message: z.string(),
});

/**
 * A run's effective agent settings, resolved by the host (operator defaults, then the
 * workspace's settings, then the message's overrides). Absent fields take the agent's
 * defaults: the SDK's default model, the `claude_code` system prompt, project and local
 * setting sources, `bypassPermissions`.
 */
export const runOptionsSchema = z
  .object({
    model: modelIdSchema.optional(),
    maxTurns: z.number().int().positive().max(1000).optional(),
    systemPrompt: z
      .discriminatedUnion('type', [
        z
          .object({ type: z.literal('preset'), append: z.string().max(100_000).optional() })
          .strict(),
        z.object({ type: z.literal('custom'), prompt: z.string().min(1).max(100_000) }).strict(),
      ])
      .optional(),
    settingSources: z.array(z.enum(SETTING_SOURCES)).max(SETTING_SOURCES.length).optional(),
    allowedTools: toolListSchema.optional(),
    disallowedTools: toolListSchema.optional(),
    permissionMode: z.enum(PERMISSION_MODES).optional(),
    thinking: thinkingSchema.optional(),
    permissions: permissionsSchema.optional(),
    clientTools: clientToolsSchema.optional(),
    mcpServers: z
      .record(z.string().regex(MCP_SERVER_NAME), mcpServerSchema)
      .refine((servers) => Object.keys(servers).length <= 20, 'at most 20 MCP servers')
      .optional(),
    env: z
      .record(z.string(), z.string().max(32_768))
      .refine((env) => Object.keys(env).every((name) => refusedEnvName(name) === null), {
        message: 'a variable name is reserved by the sandbox',
      })
      .optional(),
  })
  .strict();
export type RunOptions = z.infer<typeof runOptionsSchema>;

export const runRequestSchema = z
  .object({
    runId: z.string().min(1).max(100),
    prompt: messageContentSchema,
    /** The SDK session to resume; the agent fails with `session_lost` if it cannot. */
    resumeSessionId: z.string().min(1).max(200).optional(),
    options: runOptionsSchema.optional(),
    /** Placeholders of the workspace's secrets, added to the SDK's environment (never values). */
    env: secretPlaceholderEnvSchema.optional(),
    /**
     * The run's control token: the agent accepts answers to the run's approvals and client
     * tool calls only with it. It travels in this body only (never the environment, a file
     * or a command line), so nothing else in the container learns it.
     */
    controlToken: controlTokenSchema.optional(),
  })
  .strict();
export type RunRequest = z.infer<typeof runRequestSchema>;

/**
 * What of a run a ready process is started for before the run arrives (the parts its options
 * are made of): the session it resumes, the run options and the secret placeholders.
 */
export const readyBasisSchema = runRequestSchema
  .pick({ resumeSessionId: true, options: true, env: true })
  .strict();
export type ReadyBasis = z.infer<typeof readyBasisSchema>;

export const runSummarySchema = z.object({
  sessionId: z.string().nullable(),
  subtype: z.string(),
  isError: z.boolean(),
  interrupted: z.boolean(),
  durationMs: z.number(),
  numTurns: z.number(),
  totalCostUsd: z.number().nullable(),
  usage: z.record(z.string(), z.unknown()).nullable(),
  /** Tokens and cost per model (the SDK's `modelUsage`); absent when the run had no result. */
  modelUsage: z.record(z.string(), z.record(z.string(), z.unknown())).nullable().optional(),
  result: z.string().nullable(),
});
export type RunSummary = z.infer<typeof runSummarySchema>;

/**
 * Why a run did not use the agent's ready Claude Code process (see the agent's `ready.ts`):
 * ready processes are off, there was none, it was started for other options, another session,
 * or workspace context files that have changed since, it failed to start, or it failed before
 * answering.
 */
export const READY_FALLBACK_REASONS = [
  'disabled',
  'none',
  'options_changed',
  'session_changed',
  'workspace_changed',
  'start_failed',
  'process_failed',
] as const;
export type ReadyFallbackReason = (typeof READY_FALLBACK_REASONS)[number];

export const agentEventSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('run.started'), runId: z.string() }),
  /** Whether the run's SDK turn went to a ready process, or why it started a fresh one. */
  z.object({
    type: z.literal('ready'),
    used: z.boolean(),
    reason: z.enum(READY_FALLBACK_REASONS).optional(),
  }),
  /** One Claude Agent SDK message, as the SDK produced it. */
  z.object({ type: z.literal('sdk'), message: z.record(z.string(), z.unknown()) }),
  /** A tool call waits for a decision (an `ask` rule matched). */
  approvalRequestedData.extend({ type: z.literal('approval.requested') }),
  approvalResolvedData.extend({ type: z.literal('approval.resolved') }),
  /** A client tool call waits for its result. */
  toolRequestedData.extend({ type: z.literal('tool.requested') }),
  toolResolvedData.extend({ type: z.literal('tool.resolved') }),
  z.object({ type: z.literal('run.completed'), summary: runSummarySchema }),
  z.object({ type: z.literal('run.failed'), error: errorBodySchema }),
]);
export type AgentEvent = z.infer<typeof agentEventSchema>;

export const agentHealthSchema = z.object({
  status: z.literal('ok'),
  busy: z.boolean(),
  runId: z.string().nullable(),
  version: z.string(),
  uptimeMs: z.number(),
  /** A Claude Code process is started and waiting for the next run (absent: an older agent). */
  ready: z.boolean().optional(),
});
export type AgentHealth = z.infer<typeof agentHealthSchema>;

/** Parses one NDJSON line from the agent with its `seq`; throws on anything not in the schema. */
export function parseAgentLine(line: string): { seq: number; event: AgentEvent } {
  const raw: unknown = JSON.parse(line);
  const seq = z
    .number()
    .int()
    .positive()
    .parse((raw as { seq?: unknown } | null)?.seq);
  return { seq, event: agentEventSchema.parse(raw) };
}

/**
 * `POST /ready/release`: the agent closed its ready Claude Code process (`released`: one was
 * waiting or starting) and starts none at the end of a run in progress.
 */
export const readyReleaseSchema = z.object({ released: z.boolean() });
export type ReadyRelease = z.infer<typeof readyReleaseSchema>;

/** Parses one NDJSON line from the agent; throws on anything not in the schema. */
export function parseAgentEvent(line: string): AgentEvent {
  return agentEventSchema.parse(JSON.parse(line));
}
