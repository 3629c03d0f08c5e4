import type { FastifyInstance } from 'fastify';
import type { ApiServices } from '../context.js';

export function registerHealthRoutes(app: FastifyInstance, s: ApiServices): void {
  app.get('/health', async (_request, reply) => {
    const { status, body } = await s.health();
    return reply.code(status === 'ok' ? 200 : 503).send(body);
  });
  app.get('/healthz', async () => ({ status: 'ok' }));
}
