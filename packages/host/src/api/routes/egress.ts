import { putEgressBody } from '@workcell/protocol';
import { describePolicy } from '@workcell/proxy';
import type { FastifyInstance } from 'fastify';
import type { AuditTrail } from '../../egress/gateway.js';
import type { PolicyStore } from '../../egress/policy-store.js';
import type { ApiServices } from '../context.js';
import { parseBody } from '../validate.js';

/**
 * `GET /v1/workspaces/:wid/egress`: the workspace's policy and its most recent audit records.
 * `PUT /v1/workspaces/:wid/egress`: narrows the operator's list for this workspace; the running
 * container's next request is decided by the new policy.
 */
export function registerEgressRoutes(
  app: FastifyInstance,
  s: ApiServices,
  egress: { policies: PolicyStore; audit: AuditTrail },
): void {
  const view = async (tenant: string, workspaceId: string): Promise<Record<string, unknown>> => {
    const entry = await egress.policies.load(tenant, workspaceId);
    return {
      workspaceId,
      operator: describePolicy(egress.policies.operator),
      hosts: entry.hosts,
      effective: describePolicy(entry.policy),
      recent: egress.audit.recent(workspaceId),
    };
  };

  app.get<{ Params: { wid: string } }>('/v1/workspaces/:wid/egress', async (request) => {
    const ws = await s.catalog.getWorkspace(request.principal.tenant, request.params.wid);
    return view(ws.tenant, ws.id);
  });

  app.put<{ Params: { wid: string } }>('/v1/workspaces/:wid/egress', async (request) => {
    const ws = await s.catalog.getWorkspace(request.principal.tenant, request.params.wid);
    const body = parseBody(putEgressBody, request.body);
    await egress.policies.set(ws.tenant, ws.id, body.hosts);
    // The host holding the workspace's container may be another one: it reads the policy again.
    await s.control.egressChanged(ws.tenant, ws.id);
    return view(ws.tenant, ws.id);
  });
}
