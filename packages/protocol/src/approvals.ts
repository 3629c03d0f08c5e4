import { z } from 'zod';
import { contentBlockSchema } from './content.js';

/**
 * Approvals and client tools: the permission rules of an agent's settings (Claude Code's rule
 * syntax), the client's own tools, and the shapes of the decisions and results a client sends.
 * The host checks them when settings are set; the agent checks them again before it hands them
 * to the SDK.
 */

/**
 * The tools Claude Code offers itself. A client tool may not take one of these names (compared
 * ignoring case), so a rule or a model's call always means one tool.
 */
export const BUILT_IN_TOOLS = [
  'Agent',
  'AskUserQuestion',
  'Bash',
  'BashOutput',
  'Edit',
  'ExitPlanMode',
  'Glob',
  'Grep',
  'KillBash',
  'KillShell',
  'LS',
  'ListMcpResourcesTool',
  'MultiEdit',
  'NotebookEdit',
  'NotebookRead',
  'Read',
  'ReadMcpResourceTool',
  'Skill',
  'SlashCommand',
  'Task',
  'TodoWrite',
  'WebFetch',
  'WebSearch',
  'Write',
] as const;

/** The in-process MCP server that offers the client's tools: `mcp__workcell_client__<name>`. */
export const CLIENT_TOOL_SERVER = 'workcell_client';

/** The name the model calls a client tool by. */
export function clientToolQualifiedName(name: string): string {
  return `mcp__${CLIENT_TOOL_SERVER}__${name}`;
}

/** A tool name MCP allows: 1-64 letters, digits, `_` or `-`. */
export const MCP_TOOL_NAME = /^[A-Za-z0-9_-]{1,64}$/;

const RULE_TOOL =
  /^(?:mcp__[A-Za-z0-9_-]+(?:__(?:[A-Za-z0-9_-]+|\*))?|[A-Za-z][A-Za-z0-9_-]{0,99})$/;
const MAX_RULES_PER_LIST = 200;

/**
 * Why a permission rule is not valid Claude Code rule syntax (null when it is): `Tool`,
 * `Tool(specifier)` or an MCP name (`mcp__server`, `mcp__server__tool`, `mcp__server__*`).
 * The specifier is one line, not empty, with balanced parentheses; an MCP rule has none.
 */
export function invalidPermissionRule(rule: string): string | null {
  if (rule.length === 0 || rule.length > 1000) return 'a rule is 1-1000 characters';
  if (/[\r\n\0]/.test(rule)) return 'a rule is one line';
  const open = rule.indexOf('(');
  const tool = open === -1 ? rule : rule.slice(0, open);
  if (!RULE_TOOL.test(tool))
    return `"${tool}" is not a tool name (a name such as Bash, or mcp__server__tool)`;
  if (open === -1) return null;
  if (tool.startsWith('mcp__')) return 'an MCP rule takes no specifier in parentheses';
  if (!rule.endsWith(')')) return 'a specifier ends with ")"';
  const specifier = rule.slice(open + 1, -1);
  if (specifier.trim().length === 0) return 'a specifier in parentheses is not empty';
  let depth = 0;
  for (const c of specifier) {
    if (c === '(') depth += 1;
    if (c === ')') depth -= 1;
    if (depth < 0) return 'unbalanced parentheses';
  }
  if (depth !== 0) return 'unbalanced parentheses';
  return null;
}

const ruleListSchema = z
  .array(z.string())
  .max(MAX_RULES_PER_LIST)
  .superRefine((rules, ctx) => {
    for (const [index, rule] of rules.entries()) {
      const why = invalidPermissionRule(rule);
      if (why)
        ctx.addIssue({
          code: 'custom',
          path: [index],
          message: `${JSON.stringify(rule.slice(0, 100))}: ${why}`,
          params: { errorCode: 'permission_rule_invalid' },
        });
    }
  });

export const permissionsSchema = z
  .object({
    allow: ruleListSchema.optional().describe('tool calls that run without asking'),
    ask: ruleListSchema
      .optional()
      .describe('tool calls that wait for a decision (`approval.requested`)'),
    deny: ruleListSchema.optional().describe('tool calls refused; the model is told'),
  })
  .strict()
  .describe(
    "permission rules in Claude Code's syntax (`Bash`, `Bash(npm test:*)`, `Write(src/**)`, `mcp__github__create_issue`); deny wins over ask, ask over allow; a call no rule matches follows the permission mode. Each layer's rules are added to the earlier layers'. An invalid rule answers `permission_rule_invalid`",
  );
export type Permissions = z.infer<typeof permissionsSchema>;

const MAX_CLIENT_TOOLS = 50;
const MAX_SCHEMA_BYTES = 64 * 1024;

export const clientToolSchema = z
  .object({
    name: z.string().describe('1-64 letters, digits, `_` or `-`; not a built-in tool name'),
    description: z.string().min(1).max(10_000),
    inputSchema: z
      .record(z.string(), z.unknown())
      .describe('a JSON Schema of the input, `{"type": "object", ...}`'),
  })
  .strict()
  .superRefine((tool, ctx) => {
    const refuse = (message: string, path: string): void =>
      ctx.addIssue({
        code: 'custom',
        path: [path],
        message,
        params: { errorCode: 'client_tool_invalid' },
      });
    if (!MCP_TOOL_NAME.test(tool.name))
      refuse('a client tool name is 1-64 letters, digits, _ or -', 'name');
    else if (BUILT_IN_TOOLS.some((b) => b.toLowerCase() === tool.name.toLowerCase()))
      refuse(`${tool.name} is a built-in tool's name`, 'name');
    if (tool.inputSchema.type !== 'object')
      refuse('inputSchema is a JSON Schema with "type": "object"', 'inputSchema');
    else if (JSON.stringify(tool.inputSchema).length > MAX_SCHEMA_BYTES)
      refuse(`inputSchema is at most ${MAX_SCHEMA_BYTES} bytes of JSON`, 'inputSchema');
    else if (!jsonSchemaCompiles(tool.inputSchema))
      refuse('inputSchema is not a JSON Schema this host can read', 'inputSchema');
  });
export type ClientTool = z.infer<typeof clientToolSchema>;

export const clientToolsSchema = z
  .array(clientToolSchema)
  .max(MAX_CLIENT_TOOLS)
  .superRefine((tools, ctx) => {
    const seen = new Set<string>();
    for (const [index, tool] of tools.entries()) {
      const key = tool.name.toLowerCase();
      if (seen.has(key))
        ctx.addIssue({
          code: 'custom',
          path: [index, 'name'],
          message: `${tool.name} is named twice`,
          params: { errorCode: 'client_tool_invalid' },
        });
      seen.add(key);
    }
  })
  .describe(
    "the client's own tools, offered to the model as `mcp__workcell_client__<name>`; a call emits `tool.requested` and waits for `POST /v1/conversations/:cid/tool-results/:callId`. Merged by name across layers",
  );

/** A zod schema for a client tool's JSON Schema (zod's reading of JSON Schema). */
export function zodOfJsonSchema(schema: Record<string, unknown>): z.ZodType {
  return z.fromJSONSchema(schema as Parameters<typeof z.fromJSONSchema>[0]);
}

function jsonSchemaCompiles(schema: Record<string, unknown>): boolean {
  try {
    zodOfJsonSchema(schema);
    return true;
  } catch {
    return false;
  }
}

/**
 * The inputs of built-in tools a decision's `updatedInput` is checked against (the fields the
 * tool needs; others pass). Tools not listed take any object.
 */
export const BUILT_IN_TOOL_INPUTS: Readonly<Record<string, z.ZodType>> = {
  Bash: z.looseObject({ command: z.string().min(1), timeout: z.number().optional() }),
  Read: z.looseObject({ file_path: z.string().min(1) }),
  Write: z.looseObject({ file_path: z.string().min(1), content: z.string() }),
  Edit: z.looseObject({
    file_path: z.string().min(1),
    old_string: z.string(),
    new_string: z.string(),
  }),
  Glob: z.looseObject({ pattern: z.string().min(1) }),
  Grep: z.looseObject({ pattern: z.string().min(1) }),
  WebFetch: z.looseObject({ url: z.string().min(1), prompt: z.string() }),
};

/** Why an item stopped waiting: a client's answer, the approval timeout, or an interrupt. */
export const RESOLUTION_REASONS = ['client', 'timeout', 'interrupt'] as const;
export type ResolutionReason = (typeof RESOLUTION_REASONS)[number];

export const APPROVAL_DECISIONS = ['allow', 'deny'] as const;
export type ApprovalDecision = (typeof APPROVAL_DECISIONS)[number];

const toolInputSchema = z.record(z.string(), z.unknown());

/** `POST /v1/conversations/:cid/approvals/:approvalId`. */
export const approvalDecisionBody = z
  .object({
    decision: z.enum(APPROVAL_DECISIONS),
    message: z
      .string()
      .min(1)
      .max(10_000)
      .optional()
      .describe('told to the model with a denial (and kept with the approval)'),
    updatedInput: toolInputSchema
      .optional()
      .describe(
        "with `allow`: the input the tool runs with instead; checked against the tool's input schema where it is known",
      ),
  })
  .strict()
  .refine((b) => b.decision === 'allow' || b.updatedInput === undefined, {
    message: 'updatedInput goes with decision "allow"',
    path: ['updatedInput'],
  });
export type ApprovalDecisionBody = z.infer<typeof approvalDecisionBody>;

const MAX_RESULT_CHARS = 1_000_000;

/** `POST /v1/conversations/:cid/tool-results/:callId`. */
export const toolResultBody = z
  .object({
    content: z
      .union([z.string().max(MAX_RESULT_CHARS), z.array(contentBlockSchema).min(1).max(100)])
      .describe('the result the model sees: text, or text and image blocks'),
    isError: z.boolean().optional().describe('the call failed; the model is told so'),
  })
  .strict();
export type ToolResultBody = z.infer<typeof toolResultBody>;

export const APPROVAL_STATUSES = ['pending', 'allowed', 'denied'] as const;
export type ApprovalStatus = (typeof APPROVAL_STATUSES)[number];

const isoTime = z.string().describe('ISO 8601');

/** One approval as `GET /v1/conversations/:cid/approvals` lists it. */
export const approvalSchema = z.object({
  id: z.string(),
  kind: z
    .enum(['approval', 'tool'])
    .describe(
      '`approval`: a tool call waits for a decision; `tool`: a client tool call waits for its result',
    ),
  conversationId: z.string(),
  workspaceId: z.string(),
  runId: z.string(),
  toolUseId: z.string().nullable(),
  toolName: z.string(),
  input: toolInputSchema,
  status: z
    .enum(APPROVAL_STATUSES)
    .describe('a tool call counts as `allowed` once answered without error, `denied` with one'),
  reason: z.enum(RESOLUTION_REASONS).nullable(),
  message: z.string().nullable(),
  createdAt: isoTime,
  decidedAt: isoTime.nullable(),
});
export type Approval = z.infer<typeof approvalSchema>;

export const approvalListSchema = z.object({
  approvals: z.array(approvalSchema),
  nextCursor: z.string().nullable(),
});

/** The SSE data of the run events of approvals and client tools. */
export const approvalRequestedData = z.object({
  approvalId: z.string(),
  toolUseId: z.string().nullable(),
  toolName: z.string(),
  input: toolInputSchema,
});
export const approvalResolvedData = z.object({
  approvalId: z.string(),
  decision: z.enum(APPROVAL_DECISIONS),
  reason: z.enum(RESOLUTION_REASONS),
});
export const toolRequestedData = z.object({
  callId: z.string(),
  name: z.string(),
  input: toolInputSchema,
});
export const toolResolvedData = z.object({
  callId: z.string(),
  isError: z.boolean(),
  reason: z.enum(RESOLUTION_REASONS),
});

/** Ids of approvals and client-tool calls: made by the agent, checked by the host. */
export const ITEM_ID = /^(apr|call)_[A-Za-z0-9]{16,64}$/;

/**
 * What the host delivers to the agent on `POST /runs/:id/answers/:itemId`: a decision on an
 * approval, or the result of a client tool call.
 */
export const agentAnswerSchema = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('decision'),
      decision: z.enum(APPROVAL_DECISIONS),
      reason: z.enum(RESOLUTION_REASONS),
      message: z.string().max(10_000).optional(),
      updatedInput: toolInputSchema.optional(),
    })
    .strict(),
  z
    .object({
      kind: z.literal('result'),
      reason: z.enum(RESOLUTION_REASONS),
      content: toolResultBody.shape.content,
      isError: z.boolean(),
    })
    .strict(),
]);
export type AgentAnswer = z.infer<typeof agentAnswerSchema>;

/** The header that carries a run's control token on the agent's answer endpoint. */
export const CONTROL_TOKEN_HEADER = 'x-workcell-control-token';
export const controlTokenSchema = z.string().regex(/^[A-Za-z0-9_-]{32,128}$/);
