import { BUILT_IN_TOOL_INPUTS, zodOfJsonSchema } from '@workcell/protocol';
import type { ApprovalRecord } from '../state/state-store.js';

/**
 * Why a decision's `updatedInput` does not fit the tool (null when it does): a client tool's
 * own JSON Schema, or the fields a built-in tool needs. Other tools take any object.
 */
export function checkUpdatedInput(
  record: Pick<ApprovalRecord, 'toolName' | 'inputSchema'>,
  input: Record<string, unknown>,
): string | null {
  let schema;
  try {
    schema = record.inputSchema
      ? zodOfJsonSchema(record.inputSchema)
      : BUILT_IN_TOOL_INPUTS[record.toolName];
  } catch {
    return null;
  }
  if (!schema) return null;
  const parsed = schema.safeParse(input);
  if (parsed.success) return null;
  return parsed.error.issues
    .slice(0, 5)
    .map((i) => `${i.path.join('.') || '(input)'}: ${i.message}`)
    .join('; ');
}
