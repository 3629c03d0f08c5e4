import { WorkcellError } from '@workcell/protocol';

/**
 * Cursor pagination of the lists that grow. Each list is ordered by a stable, unique sort key
 * (creation time then id, or a file's path); a cursor is the opaque encoding of the last key a
 * page held and of the list it belongs to, and the next page starts strictly after it. Items
 * inserted while a client pages sort after the keys it has seen (they are newer) or are skipped
 * for this pass (a path before the cursor); an item present throughout is answered exactly once.
 */

export type ListName =
  'workspaces' | 'conversations' | 'runs' | 'files' | 'approvals' | 'snapshots';

export const DEFAULT_PAGE_LIMIT = 100;
export const MAX_PAGE_LIMIT = 1000;
const MAX_KEY_LENGTH = 2048;

/** Where a page starts (after this sort key; null: the first page) and how long it is. */
export interface PageRequest {
  after: string | null;
  limit: number;
}

export interface Page<T> {
  items: T[];
  /** The sort key of the page's last item when more follow; null on the last page. */
  nextKey: string | null;
}

function invalidCursor(): WorkcellError {
  return new WorkcellError('invalid_cursor', 'the cursor is not one this list handed out');
}

export function encodeCursor(list: ListName, key: string): string {
  return Buffer.from(JSON.stringify({ l: list, k: key })).toString('base64url');
}

/** The sort key a cursor carries; `invalid_cursor` for anything else (another list's included). */
export function decodeCursor(list: ListName, cursor: string): string {
  if (!/^[A-Za-z0-9_-]{1,4000}$/.test(cursor)) throw invalidCursor();
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalidCursor();
  }
  if (
    typeof value !== 'object' ||
    value === null ||
    (value as { l?: unknown }).l !== list ||
    typeof (value as { k?: unknown }).k !== 'string'
  )
    throw invalidCursor();
  const key = (value as { k: string }).k;
  if (key.length === 0 || key.length > MAX_KEY_LENGTH) throw invalidCursor();
  return key;
}

/** `?limit=&cursor=` (already shaped by the query schema) -> where the page starts. */
export function pageRequest(
  list: ListName,
  query: { limit?: string; cursor?: string },
): PageRequest {
  const limit = query.limit === undefined ? DEFAULT_PAGE_LIMIT : Number(query.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_LIMIT)
    throw new WorkcellError(
      'validation_failed',
      `limit must be an integer from 1 to ${MAX_PAGE_LIMIT}`,
    );
  return { after: query.cursor === undefined ? null : decodeCursor(list, query.cursor), limit };
}

/** The `nextCursor` of a page. */
export function nextCursor(list: ListName, page: Page<unknown>): string | null {
  return page.nextKey === null ? null : encodeCursor(list, page.nextKey);
}

/** Byte order of UTF-16 strings compared as the object store compares keys. */
export function compareSortKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** One page of `items` ordered by `keyOf` (any order in; sorted here). */
export function pageOf<T>(
  items: readonly T[],
  keyOf: (item: T) => string,
  req: PageRequest,
): Page<T> {
  const keyed = items
    .map((item) => ({ item, key: keyOf(item) }))
    .sort((a, b) => compareSortKeys(a.key, b.key));
  const after = req.after;
  const rest = after === null ? keyed : keyed.filter((k) => compareSortKeys(k.key, after) > 0);
  const page = rest.slice(0, req.limit);
  const last = page.at(-1);
  return {
    items: page.map((k) => k.item),
    nextKey: rest.length > req.limit && last ? last.key : null,
  };
}

/** The sort key of a record made at `createdAt` (ISO 8601) with a unique `id`. */
export function creationKey(createdAt: string, id: string): string {
  return `${createdAt}|${id}`;
}
