import { WorkcellError } from '@workcell/protocol';

/** The archive formats an upload may be in. */
export type UploadKind = 'tar' | 'tar.gz' | 'zip';

/** Content types that name an archive format. */
const DECLARED: Readonly<Record<string, UploadKind>> = {
  'application/x-tar': 'tar',
  'application/tar': 'tar',
  'application/gzip': 'tar.gz',
  'application/x-gzip': 'tar.gz',
  'application/tar+gzip': 'tar.gz',
  'application/x-compressed-tar': 'tar.gz',
  'application/x-gtar': 'tar.gz',
  'application/zip': 'zip',
  'application/x-zip-compressed': 'zip',
};

/** Content types that say nothing about the bytes: the format is read from them. */
const UNDECLARED = new Set(['', 'application/octet-stream']);

/**
 * The format a `Content-Type` names: an archive type, or null when the bytes decide (none, or
 * `application/octet-stream`). Any other type is refused `unsupported_media_type`.
 */
export function declaredKind(contentType: string | undefined): UploadKind | null {
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (UNDECLARED.has(type)) return null;
  const kind = DECLARED[type];
  if (kind === undefined) {
    throw new WorkcellError(
      'unsupported_media_type',
      `an archive upload is application/x-tar, application/gzip or application/zip (or application/octet-stream), not ${type}`,
    );
  }
  return kind;
}

/** Bytes the format is read from: enough for the tar magic at offset 257. */
export const SNIFF_BYTES = 512;

/** The format the first bytes show (gzip, zip or a ustar/GNU tar header), or null. */
export function sniffKind(head: Buffer): UploadKind | null {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'tar.gz';
  if (head.length >= 4 && head.readUInt32LE(0) === 0x04034b50) return 'zip';
  // An empty zip is only its end-of-central-directory record.
  if (head.length >= 4 && head.readUInt32LE(0) === 0x06054b50) return 'zip';
  if (head.length >= 262 && head.toString('latin1', 257, 262) === 'ustar') return 'tar';
  return null;
}

/**
 * The upload's format: what the bytes show, which must agree with a declared archive type.
 * Refused `archive_invalid` when the bytes are no archive or not the declared one.
 */
export function uploadKind(declared: UploadKind | null, head: Buffer): UploadKind {
  const sniffed = sniffKind(head);
  if (sniffed === null) {
    throw new WorkcellError(
      'archive_invalid',
      'the body is not a tar, tar.gz or zip archive (its first bytes match none of them)',
    );
  }
  if (declared !== null && declared !== sniffed) {
    throw new WorkcellError(
      'archive_invalid',
      `the body was declared ${declared} but its bytes are ${sniffed}`,
    );
  }
  return sniffed;
}
