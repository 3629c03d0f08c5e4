import { WorkcellError } from '@workcell/protocol';

/**
 * The Anthropic API operations the route forwards with the host's key: what the Claude Agent
 * SDK calls, nothing that reads or changes the organisation's shared data (files, batches,
 * admin). An operator may add operations (`WORKCELL_ANTHROPIC_OPERATIONS`).
 */
export const DEFAULT_ANTHROPIC_OPERATIONS: readonly string[] = [
  'POST /v1/messages',
  'POST /v1/messages/count_tokens',
];

const METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD']);
const PATH = /^(\/[A-Za-z0-9._~-]+)+$/;

/** One allowed operation: a method and an exact path (any query). */
export interface AnthropicOperation {
  readonly method: string;
  readonly path: string;
}

/**
 * Parses `"METHOD /path"` entries (exact paths, no wildcard, no query). Throws a WorkcellError
 * (`validation_failed`) naming `variable` and the entry.
 */
export function parseAnthropicOperations(
  entries: readonly string[],
  variable: string,
): AnthropicOperation[] {
  return entries.map((entry) => {
    const match = /^([A-Z]+) (\S+)$/.exec(entry.trim());
    if (!match || !METHODS.has(match[1] ?? '') || !PATH.test(match[2] ?? '')) {
      throw new WorkcellError(
        'validation_failed',
        `${variable}: "${entry}" is not an operation such as "POST /v1/messages"`,
        { variable, pattern: entry },
      );
    }
    return { method: match[1] ?? '', path: match[2] ?? '' };
  });
}

/** Whether `method path` (the path without its query) is one of `operations`. */
export function isAllowedOperation(
  operations: readonly AnthropicOperation[],
  method: string,
  path: string,
): boolean {
  return operations.some((op) => op.method === method && op.path === path);
}
