import type { FastifyInstance } from 'fastify';
import type { ApiServices } from '../context.js';
import { ops, route } from '../contract.js';

export function registerWebhookRoutes(app: FastifyInstance, s: ApiServices): void {
  route(app, ops.createWebhook, async (request, reply, { body }) => {
    const created = await s.webhooks.register(request.principal.tenant, body);
    return reply.code(201).send(created);
  });

  route(app, ops.listWebhooks, async (request) => ({
    webhooks: await s.webhooks.list(request.principal.tenant),
    nextCursor: null,
  }));

  route(app, ops.deleteWebhook, async (request, reply, { params }) => {
    await s.webhooks.remove(request.principal.tenant, params.id);
    return reply.code(204).send();
  });
}
