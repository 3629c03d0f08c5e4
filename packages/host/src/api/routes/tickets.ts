import type { FastifyInstance } from 'fastify';
import type { ApiServices } from '../context.js';
import { ops, route } from '../contract.js';

/** `POST /v1/tickets`: a single-use ticket for a browser's terminal or event stream. */
export function registerTicketRoutes(app: FastifyInstance, s: ApiServices): void {
  route(app, ops.createTicket, async (request, reply, { body }) => {
    const ws = await s.catalog.getWorkspace(request.principal.tenant, body.workspaceId);
    const issued = await s.tickets.issue(ws.tenant, ws.id, body.purpose);
    return reply
      .code(201)
      .header('cache-control', 'no-store')
      .send({ ticket: issued.ticket, expiresAt: new Date(issued.expiresAt).toISOString() });
  });
}
