import { WorkcellError } from '@workcell/protocol';

/** S3's limit on a key, applied to every store so both accept exactly the same keys. */
export const MAX_OBJECT_KEY_BYTES = 1024;
/** The usual file-name limit; the directory store turns each segment into a directory name. */
export const MAX_KEY_SEGMENT_BYTES = 255;
/** Segments starting with this (any case) name store internals and are never valid in a key. */
export const RESERVED_SEGMENT_PREFIX = '.workcell';

function invalid(what: string, value: string, reason: string): WorkcellError {
  return new WorkcellError('invalid_path', `invalid object ${what}: ${reason}`, {
    [what]: value.slice(0, 200),
  });
}

function segmentProblem(segment: string): string | null {
  if (segment === '') return 'empty segment (leading, trailing or double "/")';
  if (segment === '.' || segment === '..') return `"${segment}" segment`;
  if (Buffer.byteLength(segment, 'utf8') > MAX_KEY_SEGMENT_BYTES) {
    return `segment longer than ${MAX_KEY_SEGMENT_BYTES} bytes`;
  }
  if (segment.toLowerCase().startsWith(RESERVED_SEGMENT_PREFIX)) {
    return `segment starting with "${RESERVED_SEGMENT_PREFIX}" is reserved`;
  }
  return null;
}

function commonProblem(value: string): string | null {
  if (value.includes('\0')) return 'contains NUL';
  if (/\p{Cs}/u.test(value)) return 'contains an unpaired surrogate';
  if (value.startsWith('/')) return 'starts with "/"';
  if (Buffer.byteLength(value, 'utf8') > MAX_OBJECT_KEY_BYTES) {
    return `longer than ${MAX_OBJECT_KEY_BYTES} bytes`;
  }
  return null;
}

/**
 * Checks an object key and returns it unchanged, or throws `invalid_path`. A key is `/`-separated
 * segments, each non-empty, not `.` or `..`, at most 255 bytes and not starting with `.workcell`;
 * no NUL; at most 1024 bytes. Both stores apply the same rule, so a key that works on one works
 * on the other, and the directory store never maps a key outside its root.
 */
export function checkObjectKey(key: string): string {
  const problem =
    (key === '' ? 'empty' : null) ??
    commonProblem(key) ??
    key
      .split('/')
      .map(segmentProblem)
      .find((p) => p !== null) ??
    null;
  if (problem !== null) throw invalid('key', key, problem);
  return key;
}

/**
 * Checks a list/delete prefix: `''`, or complete segments followed by `/` and an optional partial
 * segment (`a/b/` or `a/b`). The complete segments follow the key rules; the partial one only
 * matches names by their beginning.
 */
export function checkObjectPrefix(prefix: string): string {
  if (prefix === '') return prefix;
  const common = commonProblem(prefix);
  if (common !== null) throw invalid('prefix', prefix, common);
  const segments = prefix.split('/');
  segments.pop();
  const problem = segments.map(segmentProblem).find((p) => p !== null);
  if (problem !== undefined && problem !== null) throw invalid('prefix', prefix, problem);
  return prefix;
}

/** Orders keys the way S3 lists them: by their UTF-8 bytes. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
