import type { FastifyInstance } from 'fastify';
import type { ApiServices } from '../context.js';
import { ops, route } from '../contract.js';
import { buildOpenApiDocument } from '../openapi.js';

/** `/health`, `/healthz`, `/readyz`, `/metrics` and `/openapi.json`: no token needed. */
export function registerOperationsRoutes(app: FastifyInstance, s: ApiServices): void {
  route(app, ops.health, async (_request, reply) => {
    const report = await s.health.health();
    return reply.code(report.status === 'ok' ? 200 : 503).send(report);
  });

  route(app, ops.healthz, async () => ({ status: 'ok' as const }));

  route(app, ops.readyz, async (_request, reply) => {
    const report = await s.health.ready();
    return reply.code(report.ready ? 200 : 503).send(report);
  });

  route(app, ops.metrics, async (_request, reply) => {
    const text = await s.metrics.render();
    return reply.type(s.metrics.contentType).send(text);
  });

  let document: Record<string, unknown> | null = null;
  route(app, ops.openapi, async () => {
    document ??= buildOpenApiDocument({ version: s.version });
    return document;
  });
}
