import { WorkcellError, type TicketPurpose } from '@workcell/protocol';
import type { FastifyRequest } from 'fastify';
import type { TicketService } from '../auth/tickets.js';
import type { Principal, TokenAuthenticator } from '../auth/tokens.js';
import { isManagedAgentsUrl } from '../managed-agents/operations.js';
import { ops } from './contract.js';

/**
 * The routes a browser opens without an `Authorization` header (EventSource, WebSocket), and
 * the ticket purpose each takes.
 */
const BROWSER_ROUTES: ReadonlyMap<string, TicketPurpose> = new Map([
  [ops.runEvents.path, 'events'],
  [ops.openTerminal.path, 'terminal'],
]);

/**
 * Who a `/v1` request acts for: the bearer token of its `Authorization` header; on the
 * browser routes also a single-use `?ticket=` (redeemed here, its grant kept on the request for
 * the route to check the workspace) or, for older clients, the API token as `?access_token=`.
 * Throws `unauthorized`, or `ticket_invalid` for a ticket that does not redeem.
 */
export async function authenticateRequest(
  request: FastifyRequest,
  auth: TokenAuthenticator,
  tickets: Pick<TicketService, 'redeem'>,
): Promise<Principal> {
  const principal = auth.authenticate(request.headers.authorization);
  if (principal) return principal;
  // The Managed Agents API takes the token as Anthropic's SDKs send an API key.
  const apiKey = request.headers['x-api-key'];
  if (typeof apiKey === 'string' && isManagedAgentsUrl(request.url)) {
    const byKey = auth.authenticateToken(apiKey);
    if (byKey) return byKey;
  }
  const purpose =
    request.method === 'GET' ? BROWSER_ROUTES.get(request.routeOptions.url ?? '') : undefined;
  if (purpose) {
    const query = request.query as Record<string, unknown>;
    if (typeof query.ticket === 'string') {
      const grant = await tickets.redeem(query.ticket, purpose);
      request.ticket = grant;
      return { tenant: grant.tenant, admin: false };
    }
    if (typeof query.access_token === 'string') {
      const byQuery = auth.authenticateToken(query.access_token);
      if (byQuery) return byQuery;
    }
  }
  throw new WorkcellError('unauthorized', 'a valid bearer token is required');
}
