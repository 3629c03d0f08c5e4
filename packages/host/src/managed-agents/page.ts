import { z } from 'zod';
import { AnthropicApiError } from './errors.js';

/** `?limit=&page=` as the SDK's `PageCursor` sends them. */
export const pageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).optional().describe('items per page'),
  page: z.string().max(200).optional().describe('the `next_page` cursor of the previous page'),
});

export interface Paged<T> {
  data: T[];
  next_page: string | null;
  prev_page: string | null;
}

function encode(offset: number): string {
  return Buffer.from(`o:${offset}`).toString('base64url');
}

function decode(cursor: string): number {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const match = /^o:(\d{1,9})$/.exec(text);
  if (!match?.[1])
    throw new AnthropicApiError('invalid_request_error', 'page: not a cursor this list handed out');
  return Number(match[1]);
}

/**
 * One page of `items` (already filtered and ordered) in the shape the SDK's `PageCursor` and
 * `BidirectionalPageCursor` read: `data`, and `next_page` / `prev_page` cursors (null at the
 * ends), which the SDK sends back as `?page=`.
 */
export function paginate<T>(
  items: readonly T[],
  query: { limit?: number | undefined; page?: string | undefined },
  defaultLimit = 20,
): Paged<T> {
  const limit = query.limit ?? defaultLimit;
  const start = query.page ? decode(query.page) : 0;
  const data = items.slice(start, start + limit);
  return {
    data,
    next_page: start + limit < items.length ? encode(start + limit) : null,
    prev_page: start > 0 ? encode(Math.max(0, start - limit)) : null,
  };
}
