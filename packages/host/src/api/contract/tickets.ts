import { createTicketBody, errorResponseSchema, ticketSchema } from '@workcell/protocol';
import { TICKETS_PER_TENANT_PER_TTL } from '../../auth/tickets.js';
import { op } from './operation.js';

/** Single-use tickets for browser connections. */
export const ticketOps = {
  createTicket: op({
    id: 'createTicket',
    method: 'POST',
    path: '/v1/tickets',
    summary: 'A short-lived, single-use ticket for a browser to open a terminal or an event stream',
    description:
      'Browsers cannot send an `Authorization` header with an EventSource or a WebSocket; they pass a ticket ' +
      'instead (`?ticket=`), so the API token never goes into a URL. A ticket opens one connection: ' +
      "`terminal` the workspace's terminal, `events` the event stream of one of its runs. It is refused " +
      '(`ticket_invalid`) once used, after `expiresAt` (`WORKCELL_TICKET_TTL_MS` after issue), and for another ' +
      'workspace or purpose. Only a bearer token may ask for one.',
    tag: 'tickets',
    auth: 'bearer',
    body: createTicketBody,
    responses: {
      201: {
        description: 'the ticket; ask for a new one for each connection',
        schema: ticketSchema,
      },
      404: { description: 'no such workspace for this tenant', schema: errorResponseSchema },
      429: {
        description:
          `\`rate_limited\`: the tenant was issued its ${TICKETS_PER_TENANT_PER_TTL} tickets ` +
          'of the current TTL window (`Retry-After`)',
        schema: errorResponseSchema,
      },
    },
  }),
} as const;
