import {
  createWorkspaceBody,
  errorResponseSchema,
  pageQuery,
  workspaceDetailSchema,
  workspaceSchema,
} from '@workcell/protocol';
import { z } from 'zod';
import { op, wsParams, nextCursor, PAGE_400 } from './operation.js';

/** Workspaces: create, list, read and delete. */
export const workspaceOps = {
  createWorkspace: op({
    id: 'createWorkspace',
    newWork: true,
    method: 'POST',
    path: '/v1/workspaces',
    summary: 'Create a workspace',
    tag: 'workspaces',
    auth: 'bearer',
    body: createWorkspaceBody,
    responses: {
      201: { description: 'created', schema: workspaceSchema },
      400: {
        description:
          '`validation_failed` or a refused agent setting (`model_not_allowed`, ...); no workspace is created',
        schema: errorResponseSchema,
      },
    },
  }),
  listWorkspaces: op({
    id: 'listWorkspaces',
    method: 'GET',
    path: '/v1/workspaces',
    summary: "List the tenant's workspaces, oldest first, a page at a time",
    tag: 'workspaces',
    auth: 'bearer',
    query: pageQuery,
    responses: {
      200: {
        description: 'the workspaces',
        schema: z.object({ workspaces: z.array(workspaceSchema), nextCursor }),
      },
      400: PAGE_400,
    },
  }),
  getWorkspace: op({
    id: 'getWorkspace',
    method: 'GET',
    path: '/v1/workspaces/:wid',
    summary: 'A workspace and its container',
    tag: 'workspaces',
    auth: 'bearer',
    params: wsParams,
    responses: { 200: { description: 'the workspace', schema: workspaceDetailSchema } },
  }),
  deleteWorkspace: op({
    id: 'deleteWorkspace',
    method: 'DELETE',
    path: '/v1/workspaces/:wid',
    summary: 'Delete a workspace, its container and its data',
    tag: 'workspaces',
    auth: 'bearer',
    params: wsParams,
    responses: {
      204: { description: 'deleted' },
      409: { description: 'a run is in progress', schema: errorResponseSchema },
    },
  }),
} as const;
