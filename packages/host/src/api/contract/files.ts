import {
  errorResponseSchema,
  fileEntrySchema,
  filesQuery,
  writtenFileSchema,
} from '@workcell/protocol';
import { z } from 'zod';
import { op, idParam, wsParams, nextCursor, PAGE_400 } from './operation.js';

const fileParams = z.object({
  wid: idParam('workspace'),
  '*': z.string().describe('the file path inside the workspace'),
});

/** A workspace's files, one at a time. */
export const fileOps = {
  listFiles: op({
    id: 'listFiles',
    method: 'GET',
    path: '/v1/workspaces/:wid/files',
    summary: "List a workspace's files by path, a page at a time",
    tag: 'files',
    auth: 'bearer',
    params: wsParams,
    query: filesQuery,
    responses: {
      200: {
        description: 'the files',
        schema: z.object({ files: z.array(fileEntrySchema), nextCursor }),
      },
      400: PAGE_400,
    },
  }),
  getFile: op({
    id: 'getFile',
    method: 'GET',
    path: '/v1/workspaces/:wid/files/*',
    summary: "A file's bytes (Range and If-None-Match supported)",
    tag: 'files',
    auth: 'bearer',
    params: fileParams,
    responses: {
      200: { description: 'the bytes', contentType: 'application/octet-stream' },
      206: { description: 'the requested range', contentType: 'application/octet-stream' },
      304: { description: 'not modified' },
      416: { description: 'range not satisfiable', schema: errorResponseSchema },
    },
  }),
  putFile: op({
    id: 'putFile',
    newWork: true,
    method: 'PUT',
    path: '/v1/workspaces/:wid/files/*',
    summary: 'Write a file',
    tag: 'files',
    auth: 'bearer',
    params: fileParams,
    rawBody: {
      contentType: 'application/octet-stream',
      description: 'the bytes, whatever the content type',
    },
    responses: {
      201: {
        description: 'written',
        schema: writtenFileSchema,
      },
      413: { description: 'over the file size limit', schema: errorResponseSchema },
    },
  }),
  deleteFile: op({
    id: 'deleteFile',
    method: 'DELETE',
    path: '/v1/workspaces/:wid/files/*',
    summary: 'Delete a file',
    tag: 'files',
    auth: 'bearer',
    params: fileParams,
    responses: { 204: { description: 'deleted' } },
  }),
} as const;
