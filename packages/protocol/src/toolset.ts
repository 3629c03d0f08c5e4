/**
 * The `agent_toolset_20260401` tools by their Anthropic names, the Claude Code tool each runs
 * as, and the translation of inputs between the two (the model and the agent speak Claude
 * Code's; the Managed Agents events speak Anthropic's).
 *
 * | Anthropic    | Claude Code | input                                                         |
 * |--------------|-------------|---------------------------------------------------------------|
 * | `bash`       | `Bash`      | `timeout_ms` <-> `timeout` (both milliseconds); rest as is     |
 * | `read`       | `Read`      | `view_range: [first, last]` <-> `offset` (first line), `limit` |
 * | `write`      | `Write`     | as is                                                         |
 * | `edit`       | `Edit`      | as is                                                         |
 * | `glob`       | `Glob`      | as is                                                         |
 * | `grep`       | `Grep`      | as is (Claude Code's extra options pass through)              |
 * | `web_fetch`  | `WebFetch`  | as is                                                         |
 * | `web_search` | `WebSearch` | as is                                                         |
 */
export const TOOLSET_TOOLS = {
  bash: 'Bash',
  read: 'Read',
  write: 'Write',
  edit: 'Edit',
  glob: 'Glob',
  grep: 'Grep',
  web_fetch: 'WebFetch',
  web_search: 'WebSearch',
} as const;
export type ToolsetToolName = keyof typeof TOOLSET_TOOLS;
export const TOOLSET_TOOL_NAMES = Object.keys(TOOLSET_TOOLS) as ToolsetToolName[];

/**
 * Claude Code's built-in tools that have no place in the toolset: removed from every session's
 * agent, so the model is offered exactly the toolset's enabled tools (and MCP tools).
 */
export const CLAUDE_CODE_EXTRA_TOOLS = [
  'Task',
  'Agent',
  'TodoWrite',
  'NotebookEdit',
  'BashOutput',
  'KillShell',
  'ExitPlanMode',
  'SlashCommand',
  'Skill',
  'ListMcpResourcesTool',
  'ReadMcpResourceTool',
] as const;

const BY_CLAUDE_CODE_NAME = new Map<string, ToolsetToolName>(
  TOOLSET_TOOL_NAMES.map((name) => [TOOLSET_TOOLS[name], name]),
);

/** The Anthropic name of a Claude Code built-in tool, or null for any other tool. */
export function toolsetNameOf(claudeCodeName: string): ToolsetToolName | null {
  return BY_CLAUDE_CODE_NAME.get(claudeCodeName) ?? null;
}

/** A Claude Code tool input in the toolset's terms. */
export function toToolsetInput(
  name: ToolsetToolName,
  input: Record<string, unknown>,
): Record<string, unknown> {
  if (name === 'bash' && 'timeout' in input) {
    const { timeout, ...rest } = input;
    return { ...rest, timeout_ms: timeout };
  }
  if (name === 'read' && ('offset' in input || 'limit' in input)) {
    const { offset, limit, ...rest } = input;
    const first = typeof offset === 'number' ? offset : 1;
    return typeof limit === 'number'
      ? { ...rest, view_range: [first, first + limit - 1] }
      : { ...rest, view_range: [first, -1] };
  }
  return input;
}

/** A toolset tool input in Claude Code's terms (the mock model's `tool` directive uses this). */
export function toClaudeCodeInput(
  name: ToolsetToolName,
  input: Record<string, unknown>,
): Record<string, unknown> {
  if (name === 'bash' && 'timeout_ms' in input) {
    const { timeout_ms: timeout, ...rest } = input;
    return { ...rest, timeout };
  }
  if (name === 'read' && Array.isArray(input.view_range)) {
    const { view_range: range, ...rest } = input;
    const [first, last] = range as unknown[];
    if (typeof first !== 'number') return rest;
    return typeof last === 'number' && last >= first
      ? { ...rest, offset: first, limit: last - first + 1 }
      : { ...rest, offset: first };
  }
  return input;
}
