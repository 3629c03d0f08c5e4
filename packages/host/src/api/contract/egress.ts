import { egressViewSchema, putEgressBody } from '@workcell/protocol';
import { op, wsParams } from './operation.js';

/** A workspace's egress policy. */
export const egressOps = {
  getEgress: op({
    id: 'getEgress',
    method: 'GET',
    path: '/v1/workspaces/:wid/egress',
    summary: "A workspace's egress policy and recent proxy decisions",
    tag: 'egress',
    auth: 'bearer',
    params: wsParams,
    responses: { 200: { description: 'the policy', schema: egressViewSchema } },
  }),
  putEgress: op({
    id: 'putEgress',
    method: 'PUT',
    path: '/v1/workspaces/:wid/egress',
    summary: "Narrow the operator's egress list for a workspace (null restores it)",
    tag: 'egress',
    auth: 'bearer',
    params: wsParams,
    body: putEgressBody,
    responses: { 200: { description: 'the new policy', schema: egressViewSchema } },
  }),
} as const;
