import { usageQuery, usageSchema } from '@workcell/protocol';
import { op, wsParams } from './operation.js';

/** Usage per workspace and per tenant. */
export const usageOps = {
  workspaceUsage: op({
    id: 'workspaceUsage',
    method: 'GET',
    path: '/v1/workspaces/:wid/usage',
    summary: "A workspace's tokens, cost and run time per day and model",
    tag: 'usage',
    auth: 'bearer',
    params: wsParams,
    query: usageQuery,
    responses: { 200: { description: 'the usage', schema: usageSchema } },
  }),
  tenantUsage: op({
    id: 'tenantUsage',
    method: 'GET',
    path: '/v1/usage',
    summary: "The tenant's tokens, cost and run time per day and model, over every workspace",
    tag: 'usage',
    auth: 'bearer',
    query: usageQuery,
    responses: { 200: { description: 'the usage', schema: usageSchema } },
  }),
} as const;
