import { WorkcellError } from '@workcell/protocol';
import type { GetRange } from './object-store.js';

/** Throws `bad_request` unless `start` and `end` are whole numbers with 0 <= start <= end. */
export function checkRange(key: string, range: GetRange): void {
  const { start, end } = range;
  const valid =
    Number.isSafeInteger(start) &&
    start >= 0 &&
    (end === undefined || (Number.isSafeInteger(end) && end >= start));
  if (!valid)
    throw new WorkcellError('bad_request', `invalid range ${start}-${end ?? ''} for ${key}`);
}

/**
 * Resolves a byte range against an object's size, the way S3 does: `end` past the last byte is
 * clamped; a start at or past the end of the object is unsatisfiable (HTTP 416 on S3) and throws
 * `bad_request`.
 */
export function resolveRange(
  key: string,
  size: number,
  range: GetRange | undefined,
): { start: number; end: number } {
  if (range === undefined) return { start: 0, end: Math.max(0, size - 1) };
  checkRange(key, range);
  if (range.start >= size) {
    throw new WorkcellError(
      'bad_request',
      `range ${range.start}- is past the end of ${key} (${size} bytes)`,
    );
  }
  return { start: range.start, end: Math.min(range.end ?? size - 1, size - 1) };
}
