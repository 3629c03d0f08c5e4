import type { FastifyInstance } from 'fastify';

/** Request headers a browser client sends across origins. */
const ALLOWED_HEADERS = 'authorization, content-type, last-event-id, range';
/** Response headers a browser client may read across origins. */
const EXPOSED_HEADERS = 'retry-after, content-range, accept-ranges, etag, location';
const ALLOWED_METHODS = 'GET, HEAD, POST, PUT, DELETE';

/**
 * CORS for browser clients on the listed origins (`WORKCELL_CORS_ORIGINS`; none by default, so a
 * page on another origin cannot read any answer). A listed origin gets its answers readable and
 * its preflights answered 204 before authentication (a preflight carries no token); any other
 * origin gets no CORS header at all. Credentials travel in `Authorization`, never cookies, so
 * `Access-Control-Allow-Credentials` is never sent.
 */
export function registerCors(app: FastifyInstance, origins: readonly string[]): void {
  if (origins.length === 0) return;
  const allowed = new Set(origins);
  app.addHook('onRequest', async (request, reply) => {
    const origin = request.headers.origin;
    if (origin === undefined || !allowed.has(origin)) return;
    void reply.header('access-control-allow-origin', origin).header('vary', 'Origin');
    const preflight =
      request.method === 'OPTIONS' &&
      request.headers['access-control-request-method'] !== undefined;
    if (!preflight) {
      void reply.header('access-control-expose-headers', EXPOSED_HEADERS);
      return;
    }
    return reply
      .code(204)
      .header('access-control-allow-methods', ALLOWED_METHODS)
      .header('access-control-allow-headers', ALLOWED_HEADERS)
      .header('access-control-max-age', '600')
      .send();
  });
}
