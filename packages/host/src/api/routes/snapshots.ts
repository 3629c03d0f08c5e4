import type { FastifyInstance } from 'fastify';
import { nextCursor, pageRequest } from '../../catalog/page.js';
import type { ApiServices } from '../context.js';
import { ops, route } from '../contract.js';

/** `GET|POST /v1/workspaces/:wid/snapshots`, `POST /v1/workspaces/:wid/restore`. */
export function registerSnapshotRoutes(app: FastifyInstance, s: ApiServices): void {
  route(app, ops.listSnapshots, async (request, _reply, { params, query }) => {
    const ws = await s.catalog.getWorkspace(request.principal.tenant, params.wid);
    const page = await s.snapshots.page(ws.tenant, ws.id, pageRequest('snapshots', query));
    return { snapshots: page.items, nextCursor: nextCursor('snapshots', page) };
  });

  route(app, ops.createSnapshot, async (request, reply, { params }) => {
    const ws = await s.catalog.getWorkspace(request.principal.tenant, params.wid);
    return reply.code(201).send(await s.snapshots.take(ws.tenant, ws.id));
  });

  route(app, ops.restoreWorkspace, async (request, _reply, { params, body }) => {
    const ws = await s.catalog.getWorkspace(request.principal.tenant, params.wid);
    return s.snapshots.restore(ws.tenant, ws.id, body.snapshotId);
  });
}
