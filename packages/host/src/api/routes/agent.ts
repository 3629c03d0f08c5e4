import type { FastifyInstance } from 'fastify';
import type { ApiServices } from '../context.js';
import { ops, route } from '../contract.js';

/**
 * `GET /v1/workspaces/:wid/agent`: the workspace's agent settings and the effective ones.
 * `PUT /v1/workspaces/:wid/agent`: replaces them; checked whole before anything is stored.
 */
export function registerAgentRoutes(app: FastifyInstance, s: ApiServices): void {
  route(app, ops.getAgent, async (request, _reply, { params }) => {
    const ws = await s.catalog.getWorkspace(request.principal.tenant, params.wid);
    return s.agentSettings.get(ws.tenant, ws.id);
  });

  route(app, ops.putAgent, async (request, _reply, { params, body }) => {
    const ws = await s.catalog.getWorkspace(request.principal.tenant, params.wid);
    return s.agentSettings.put(ws.tenant, ws.id, body);
  });
}
