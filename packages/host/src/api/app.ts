import { WorkcellError } from '@workcell/protocol';
import websocket from '@fastify/websocket';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Principal } from '../auth/tokens.js';
import type { ApiServices, RouteEntry } from './context.js';
import { authenticateRequest } from './authenticate.js';
import { registerManagedAgents } from './managed-agents/register.js';
import { registerConsole } from './console.js';
import { registerCors } from './cors.js';
import { sendError } from './errors.js';
import { serializeRequest } from './log.js';
import { registerAdminRoutes } from './routes/admin.js';
import { registerAgentRoutes } from './routes/agent.js';
import { registerApprovalRoutes } from './routes/approvals.js';
import { registerConversationRoutes } from './routes/conversations.js';
import { registerEgressRoutes } from './routes/egress.js';
import { registerArchiveRoutes } from './routes/archive.js';
import { registerExecRoutes } from './routes/exec.js';
import { registerFileRoutes } from './routes/files.js';
import { registerSecretRoutes } from './routes/secrets.js';
import { registerSnapshotRoutes } from './routes/snapshots.js';
import { registerForkRoutes } from './routes/forks.js';
import { registerTerminalRoutes, TERMINAL_MAX_FRAME_BYTES } from './routes/terminal.js';
import { registerTicketRoutes } from './routes/tickets.js';
import { registerOperationsRoutes } from './routes/health.js';
import { registerUsageRoutes } from './routes/usage.js';
import { registerWebhookRoutes } from './routes/webhooks.js';
import { registerWorkspaceRoutes } from './routes/workspaces.js';
import { SseHub } from './sse.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route starts new work: refused while a store is down (`Operation.newWork`). */
    newWork?: boolean;
  }
}

/**
 * The HTTP API (DESIGN.md contract). Every `/v1` route needs a bearer token that maps to a
 * tenant (the events and terminal routes also take a single-use `?ticket=`, for EventSource and
 * browser WebSockets, which cannot send headers; see `authenticate.ts`); a tenant only
 * ever sees its own workspaces (another tenant's ids answer 404); each tenant's requests are
 * rate limited. Request URLs are logged with secret query parameters (tokens, tickets) redacted.
 */
export async function buildApi(services: ApiServices): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: services.logger.child(
      {},
      { serializers: { req: serializeRequest } },
    ) as FastifyBaseLogger,
    bodyLimit: services.limits.maxJsonBytes,
    // Ids in paths are ours; a trailing slash is not a different route.
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 16_384 },
    requestIdHeader: false,
  });

  // First, so its hooks run before authentication: a refused upgrade's socket is then closed
  // with the HTTP answer instead of being left open.
  await app.register(websocket, { options: { maxPayload: TERMINAL_MAX_FRAME_BYTES } });

  const routes: RouteEntry[] = [];
  app.addHook('onRoute', (options) => {
    for (const method of [options.method].flat())
      if (method !== 'HEAD') routes.push({ method, url: options.url });
  });
  app.decorate('routeTable', routes);

  const hub = new SseHub({
    opened: () => services.metrics.sseOpened(),
    closed: () => services.metrics.sseClosed(),
  });
  app.decorate('endEventStreams', () => hub.endAll());
  // Open streams end before the server waits for its connections to close.
  app.addHook('preClose', async () => hub.endAll());

  app.decorateRequest('principal', null as unknown as Principal);
  app.decorateRequest('ticket', null);
  // Before authentication: a preflight carries no token.
  registerCors(app, services.corsOrigins ?? []);

  app.setErrorHandler((err, request, reply) => sendError(reply, err, request));
  app.setNotFoundHandler((request, reply) =>
    sendError(
      reply,
      new WorkcellError(
        'not_found',
        `no route ${request.method} ${request.url.split('?')[0] ?? ''}`,
      ),
    ),
  );

  app.addHook('onRequest', async (request) => {
    if (!request.url.startsWith('/v1/') && request.url !== '/v1') return;
    const principal = await authenticateRequest(request, services.auth, services.tickets);
    request.principal = principal;
    const rate = await services.rateLimit.check(principal.tenant);
    if (!rate.allowed) {
      throw new WorkcellError(
        'rate_limited',
        `too many requests; retry in ${rate.retryAfterSeconds} s`,
        {
          retryAfterSeconds: rate.retryAfterSeconds,
        },
      );
    }
  });

  // After authentication: a refused request is answered as any other error of its route.
  app.addHook('preHandler', async (request) => {
    if (request.routeOptions.config.newWork) services.dependencies?.assertAvailable();
  });

  registerOperationsRoutes(app, services);
  registerWorkspaceRoutes(app, services);
  registerAgentRoutes(app, services);
  registerUsageRoutes(app, services);
  registerFileRoutes(app, services);
  registerArchiveRoutes(app, services);
  registerConversationRoutes(app, services, hub);
  registerApprovalRoutes(app, services);
  registerExecRoutes(app, services, hub);
  registerEgressRoutes(app, services, services.egress);
  registerSecretRoutes(app, services, services.secrets);
  registerWebhookRoutes(app, services);
  registerSnapshotRoutes(app, services);
  registerForkRoutes(app, services);
  registerAdminRoutes(app, services);
  registerTerminalRoutes(app, services);
  registerTicketRoutes(app, services);
  registerManagedAgents(app, services, hub);
  registerConsole(app, services.console ?? null);
  return app;
}
