import { WorkcellError } from '@workcell/protocol';
import type { z } from 'zod';

/** Validates request input against its schema; failures answer 400 `validation_failed` naming the field. */
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
    throw new WorkcellError('validation_failed', detail);
  }
  return parsed.data;
}

/** Validates a request body against its schema; failures answer 400 `validation_failed`. */
export function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.output<T> {
  return parseInput(schema, body, 'body');
}
