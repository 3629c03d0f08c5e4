import {
  errorResponseSchema,
  pageQuery,
  restoreWorkspaceBody,
  snapshotListSchema,
  snapshotSchema,
} from '@workcell/protocol';
import { PAGE_400, op, wsParams } from './operation.js';

/** A workspace's snapshots: listed, taken on request, restored. */
export const snapshotOps = {
  listSnapshots: op({
    id: 'listSnapshots',
    method: 'GET',
    path: '/v1/workspaces/:wid/snapshots',
    summary: "A workspace's snapshots, newest first, a page at a time",
    description:
      'A snapshot is recorded after every run and exec whose sync out changed a file, and on request. ' +
      'The newest `WORKCELL_SNAPSHOT_KEEP` (default 100) are kept.',
    tag: 'snapshots',
    auth: 'bearer',
    params: wsParams,
    query: pageQuery,
    responses: {
      200: { description: 'the snapshots', schema: snapshotListSchema },
      400: PAGE_400,
    },
  }),
  createSnapshot: op({
    id: 'createSnapshot',
    method: 'POST',
    path: '/v1/workspaces/:wid/snapshots',
    summary: "Take a snapshot of the workspace's files as last stored",
    tag: 'snapshots',
    auth: 'bearer',
    params: wsParams,
    responses: {
      201: { description: 'the snapshot', schema: snapshotSchema },
      409: {
        description:
          '`workspace_busy`: a workspace stored before snapshots existed is moved to content-addressed storage first, under the workspace lock',
        schema: errorResponseSchema,
      },
    },
  }),
  restoreWorkspace: op({
    id: 'restoreWorkspace',
    method: 'POST',
    path: '/v1/workspaces/:wid/restore',
    summary: "Return the workspace's files to a snapshot",
    description:
      'The workspace gets exactly the files of the snapshot (the bytes are shared, not copied); ' +
      'its container, when it has one between runs, is brought up to date. Conversations are untouched.',
    tag: 'snapshots',
    auth: 'bearer',
    params: wsParams,
    body: restoreWorkspaceBody,
    responses: {
      200: { description: 'the snapshot the files now match', schema: snapshotSchema },
      404: {
        description: "`not_found`: the workspace or the snapshot (also another workspace's)",
        schema: errorResponseSchema,
      },
      409: {
        description: '`workspace_busy`: a run or another write holds the workspace',
        schema: errorResponseSchema,
      },
    },
  }),
} as const;
