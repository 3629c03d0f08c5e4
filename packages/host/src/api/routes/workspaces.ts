import type { FastifyInstance } from 'fastify';
import type { ApiServices } from '../context.js';
import { nextCursor, pageRequest } from '../../catalog/page.js';
import { ops, route } from '../contract.js';

export function registerWorkspaceRoutes(app: FastifyInstance, s: ApiServices): void {
  route(app, ops.createWorkspace, async (request, reply, { body }) => {
    // A refused agent setting answers 400 before the workspace exists.
    if (body.agent) s.agentSettings.check(body.agent);
    const ws = await s.catalog.createWorkspace(request.principal.tenant, body.name);
    if (body.agent) await s.agentSettings.put(ws.tenant, ws.id, body.agent);
    return reply.code(201).send({ id: ws.id, name: ws.name, createdAt: ws.createdAt });
  });

  route(app, ops.listWorkspaces, async (request, _reply, { query }) => {
    const page = await s.catalog.listWorkspacePage(
      request.principal.tenant,
      pageRequest('workspaces', query),
    );
    return {
      workspaces: page.items.map((w) => ({ id: w.id, name: w.name, createdAt: w.createdAt })),
      nextCursor: nextCursor('workspaces', page),
    };
  });

  route(app, ops.getWorkspace, async (request, _reply, { params }) => {
    const ws = await s.catalog.getWorkspace(request.principal.tenant, params.wid);
    const record = await s.containers.assigned(ws.id);
    return {
      id: ws.id,
      name: ws.name,
      createdAt: ws.createdAt,
      container: record
        ? {
            id: record.id,
            state: record.state,
            image: record.image,
            createdAt: new Date(record.createdAt).toISOString(),
            lastRunEndedAt: record.lastRunEndedAt
              ? new Date(record.lastRunEndedAt).toISOString()
              : null,
          }
        : null,
    };
  });

  route(app, ops.deleteWorkspace, async (request, reply, { params }) => {
    await s.workspaces.remove(request.principal.tenant, params.wid);
    return reply.code(204).send();
  });
}
