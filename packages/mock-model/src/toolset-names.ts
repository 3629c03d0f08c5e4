import { TOOLSET_TOOLS, toClaudeCodeInput, type ToolsetToolName } from '@workcell/protocol';

function isToolsetName(name: string): name is ToolsetToolName {
  return Object.hasOwn(TOOLSET_TOOLS, name);
}

/**
 * A `tool` directive may name a tool of Anthropic's `agent_toolset_20260401` (`bash`, `read`,
 * `write`, `edit`, `glob`, `grep`, `web_fetch`, `web_search`): the model then calls the Claude
 * Code tool it runs as, with the input translated. Any other name is called as given.
 */
export function fromToolsetName(
  name: string,
  input: Record<string, unknown>,
): { name: string; input: Record<string, unknown> } {
  if (!isToolsetName(name)) return { name, input };
  return { name: TOOLSET_TOOLS[name], input: toClaudeCodeInput(name, input) };
}
