import { WorkcellError } from '@workcell/protocol';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Principal } from '../auth/tokens.js';
import type { ApiServices } from './context.js';
import { sendError } from './errors.js';
import { registerConversationRoutes } from './routes/conversations.js';
import { registerEgressRoutes } from './routes/egress.js';
import { registerFileRoutes } from './routes/files.js';
import { registerHealthRoutes } from './routes/health.js';
import { registerWorkspaceRoutes } from './routes/workspaces.js';

/**
 * The HTTP API (DESIGN.md contract). Every `/v1` route needs a bearer token that maps to a
 * tenant; a tenant only ever sees its own workspaces (another tenant's ids answer 404).
 */
export async function buildApi(services: ApiServices): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: services.logger as FastifyBaseLogger,
    bodyLimit: services.limits.maxJsonBytes,
    // Ids in paths are ours; a trailing slash is not a different route.
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 5000 },
    requestIdHeader: false,
  });

  app.decorateRequest('principal', null as unknown as Principal);

  app.setErrorHandler((err, request, reply) => sendError(reply, err, request));
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, new WorkcellError('not_found', `no route ${request.method} ${request.url.split('?')[0] ?? ''}`)),
  );

  app.addHook('onRequest', async (request) => {
    if (!request.url.startsWith('/v1/') && request.url !== '/v1') return;
    const principal = services.auth.authenticate(request.headers.authorization);
    if (!principal) throw new WorkcellError('unauthorized', 'a valid bearer token is required');
    request.principal = principal;
  });

  registerHealthRoutes(app, services);
  registerWorkspaceRoutes(app, services);
  registerFileRoutes(app, services);
  registerConversationRoutes(app, services);
  registerEgressRoutes(app, services, services.egress);
  return app;
}
