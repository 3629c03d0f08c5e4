import { WorkcellError } from '@workcell/protocol';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { ApiServices } from '../context.js';
import { parseBody } from '../validate.js';

export const createWorkspaceBody = z.object({ name: z.string().min(1).max(200).optional() }).strict();

export function registerWorkspaceRoutes(app: FastifyInstance, s: ApiServices): void {
  app.post('/v1/workspaces', async (request, reply) => {
    const body = parseBody(createWorkspaceBody, request.body ?? {});
    const ws = await s.catalog.createWorkspace(request.principal.tenant, body.name);
    return reply.code(201).send({ id: ws.id, name: ws.name, createdAt: ws.createdAt });
  });

  app.get('/v1/workspaces', async (request) => {
    const list = await s.catalog.listWorkspaces(request.principal.tenant);
    return { workspaces: list.map((w) => ({ id: w.id, name: w.name, createdAt: w.createdAt })) };
  });

  app.get<{ Params: { wid: string } }>('/v1/workspaces/:wid', async (request) => {
    const ws = await s.catalog.getWorkspace(request.principal.tenant, request.params.wid);
    const record = await s.orchestrator.assigned(ws.id);
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
            lastRunEndedAt: record.lastRunEndedAt ? new Date(record.lastRunEndedAt).toISOString() : null,
          }
        : null,
    };
  });

  app.delete<{ Params: { wid: string } }>('/v1/workspaces/:wid', async (request, reply) => {
    const tenant = request.principal.tenant;
    const ws = await s.catalog.getWorkspace(tenant, request.params.wid);
    const record = await s.orchestrator.assigned(ws.id);
    if (record?.state === 'running') throw new WorkcellError('workspace_busy', 'a run is in progress in this workspace');
    if (record) await s.orchestrator.remove(record.id, 'workspace deleted');
    await s.catalog.deleteWorkspace(tenant, ws.id);
    s.egress.policies.forget(ws.id);
    s.egress.audit.forget(ws.id);
    return reply.code(204).send();
  });
}
