import { WorkcellError } from '@workcell/protocol';
import type { z } from 'zod';

/** Validates a request body against its schema; failures answer 400 `validation_failed`. */
export function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    const detail = parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
    throw new WorkcellError('validation_failed', detail);
  }
  return parsed.data;
}
