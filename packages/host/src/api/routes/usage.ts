import type { FastifyInstance } from 'fastify';
import type { ApiServices } from '../context.js';
import { ops, route } from '../contract.js';

/** `GET /v1/workspaces/:wid/usage` and `GET /v1/usage` (the tenant's, over every workspace). */
export function registerUsageRoutes(app: FastifyInstance, s: ApiServices): void {
  route(app, ops.workspaceUsage, async (request, _reply, { params, query }) => {
    const ws = await s.catalog.getWorkspace(request.principal.tenant, params.wid);
    return s.usage.workspace(ws.tenant, ws.id, { from: query.from ?? null, to: query.to ?? null });
  });

  route(app, ops.tenantUsage, async (request, _reply, { query }) =>
    s.usage.tenant(request.principal.tenant, { from: query.from ?? null, to: query.to ?? null }),
  );
}
