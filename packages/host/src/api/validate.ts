import { WorkcellError, isErrorCode, type ErrorCode } from '@workcell/protocol';
import type { z } from 'zod';

/**
 * The code a failed parse answers with: a schema rule may name its own (a custom issue with
 * `params.errorCode`, such as `env_not_allowed`); anything else is `validation_failed`.
 */
function codeOf(issues: readonly z.core.$ZodIssue[]): ErrorCode {
  for (const issue of issues) {
    const code = (issue as { params?: { errorCode?: unknown } }).params?.errorCode;
    if (isErrorCode(code)) return code;
  }
  return 'validation_failed';
}

/**
 * Validates request input against its schema; failures answer 400 naming the field, with
 * `validation_failed` or the code the failing rule names.
 */
export function parseInput<T extends z.ZodType>(
  schema: T,
  value: unknown,
  where: 'body' | 'query' | 'path',
): z.output<T> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const detail = parsed.error.issues
      .map((i) => `${[where, ...i.path].join('.')}: ${i.message}`)
      .join('; ');
    throw new WorkcellError(codeOf(parsed.error.issues), detail);
  }
  return parsed.data;
}

/** Validates a request body against its schema; failures answer 400 `validation_failed`. */
export function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.output<T> {
  return parseInput(schema, body, 'body');
}
