import { archiveQuery, archiveUploadSchema, errorResponseSchema } from '@workcell/protocol';
import { op, wsParams } from './operation.js';

/** A workspace's files as one archive, both ways. */
export const archiveOps = {
  downloadArchive: op({
    id: 'downloadArchive',
    method: 'GET',
    path: '/v1/workspaces/:wid/archive',
    summary:
      "The workspace's files as one archive: tar.gz, zip with `Accept: application/zip`, or uncompressed tar with `Accept: application/x-tar`",
    description:
      'Streamed from the object store file by file (the files API view: regular files, executable bits and ' +
      'modification times kept). `?path=` limits it to a folder, entries named relative to it; a hostile ' +
      '`path` answers `invalid_path`, a folder without files `not_found`.',
    tag: 'archives',
    auth: 'bearer',
    params: wsParams,
    query: archiveQuery,
    responses: {
      200: {
        description: 'the archive (application/gzip, application/zip or application/x-tar)',
        contentType: 'application/gzip',
      },
      400: { description: '`invalid_path`: a hostile `path`', schema: errorResponseSchema },
      404: {
        description: 'no such workspace, or no file under `path`',
        schema: errorResponseSchema,
      },
    },
  }),
  uploadArchive: op({
    id: 'uploadArchive',
    newWork: true,
    method: 'POST',
    path: '/v1/workspaces/:wid/archive',
    summary: 'Unpack a tar, tar.gz or zip into the workspace (or the folder `?path=`)',
    description:
      'The format comes from `Content-Type` (`application/x-tar`, `application/gzip`, `application/zip`) or, for ' +
      '`application/octet-stream`, from the first bytes. Files replace files of the same path; folders are implied. ' +
      'Every entry is checked before anything is written, so a refused archive changes nothing: entries that leave the ' +
      'folder (`..`, absolute, backslash, drive letter) `archive_unsafe_path`; symbolic or hard links ' +
      '`archive_link_refused`; devices and fifos `archive_special_file`; a path twice or as file and folder ' +
      '`archive_duplicate_path`; past the entry, unpacked-size, ratio or file-size limits `archive_too_large`. ' +
      'Like file uploads it waits for no run: a workspace with a run in progress answers `workspace_busy`.',
    tag: 'archives',
    auth: 'bearer',
    params: wsParams,
    query: archiveQuery,
    rawBody: {
      contentType: 'application/octet-stream',
      description: 'the archive: tar, tar.gz (gzip) or zip',
    },
    responses: {
      200: { description: 'unpacked', schema: archiveUploadSchema },
      400: {
        description:
          '`archive_invalid`, `archive_unsafe_path`, `archive_link_refused`, `archive_special_file`, `archive_duplicate_path`, `invalid_path`',
        schema: errorResponseSchema,
      },
      409: {
        description:
          '`workspace_busy` (a run is in progress) or `conflict` (a path clashes with a file or folder of the workspace)',
        schema: errorResponseSchema,
      },
      413: {
        description: '`payload_too_large` (the body) or `archive_too_large` (what it unpacks to)',
        schema: errorResponseSchema,
      },
      415: {
        description: '`unsupported_media_type`: a content type that is no archive',
        schema: errorResponseSchema,
      },
      503: {
        description:
          '`host_at_capacity`: the host is unpacking its maximum of archives (`WORKCELL_ARCHIVE_MAX_UPLOADS`); see `Retry-After`',
        schema: errorResponseSchema,
      },
    },
  }),
} as const;
