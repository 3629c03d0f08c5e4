import { WorkcellError } from '@workcell/protocol';

/** Longest path segment (a file or directory name), in UTF-8 bytes, as on ext4 and most others. */
export const MAX_SEGMENT_BYTES = 255;
/** Longest whole path, in UTF-8 bytes (Linux PATH_MAX). */
export const MAX_PATH_BYTES = 4096;
/** Names starting with this (any case) belong to Workcell's internals and are refused. */
export const RESERVED_NAME_PREFIX = '.workcell';

/** C0 controls, DEL and C1 controls. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/u;
/** An unpaired UTF-16 surrogate: not valid Unicode, and not representable in a UTF-8 name. */
const LONE_SURROGATE = /\p{Cs}/u;

function problemOf(raw: string): string | null {
  if (raw === '') return 'empty path';
  if (CONTROL.test(raw)) return 'contains a control character (NUL, C0, DEL or C1)';
  if (LONE_SURROGATE.test(raw)) return 'contains an unpaired surrogate';
  if (raw.includes('\\')) return 'contains a backslash';
  if (raw.startsWith('/')) return 'is absolute';
  if (raw.endsWith('/')) return 'ends with "/"';
  if (raw.normalize('NFC') !== raw) return 'is not in Unicode normalisation form C (NFC)';
  if (Buffer.byteLength(raw, 'utf8') > MAX_PATH_BYTES)
    return `is longer than ${MAX_PATH_BYTES} bytes`;
  for (const segment of raw.split('/')) {
    if (segment === '') return 'has an empty segment ("//")';
    if (segment === '.') return 'has a "." segment';
    if (segment === '..') return 'has a ".." segment';
    if (Buffer.byteLength(segment, 'utf8') > MAX_SEGMENT_BYTES) {
      return `has a name longer than ${MAX_SEGMENT_BYTES} bytes`;
    }
    if (segment.toLowerCase().startsWith(RESERVED_NAME_PREFIX)) {
      return `has a name starting with "${RESERVED_NAME_PREFIX}", which is reserved`;
    }
  }
  return null;
}

/**
 * The one rule for a file path inside a workspace (or a session directory), used by the API and
 * by sync in both directions. Returns the path, which is already in its one accepted form, or
 * throws `invalid_path` with the reason.
 *
 * A valid path is relative, `/`-separated, with no empty, `.` or `..` segment, no backslash, no
 * control character (C0, DEL, C1), no unpaired surrogate, each name at most 255 UTF-8 bytes, the
 * whole at most 4096, and no name starting with `.workcell`.
 *
 * Unicode: a path must already be NFC. It is refused, not normalised, so the path a client
 * stored is the path it reads back, and two names that differ only in normalisation (`é` as one
 * code point or as `e` + accent) can never both exist in a workspace.
 *
 * Percent signs are ordinary characters: `%2e%2e` is a name of six characters, harmless on any
 * file system. The API decodes a URL path once before calling this, so `..` written as `%2e%2e`
 * in a URL arrives here as `..` and is refused.
 */
export function checkWorkspacePath(raw: string): string {
  const problem = typeof raw === 'string' ? problemOf(raw) : 'not a string';
  if (problem !== null) {
    throw new WorkcellError('invalid_path', `invalid path: ${problem}`, {
      path: String(raw).slice(0, 200),
    });
  }
  return raw;
}

/** The reason `raw` is refused by checkWorkspacePath, or null when it is valid. */
export function workspacePathProblem(raw: string): string | null {
  return problemOf(raw);
}
