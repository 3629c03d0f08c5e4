import { errorResponseSchema } from '@workcell/protocol';
import { z } from 'zod';

/**
 * What one operation of the HTTP API is (method, path, input and response schemas), and the
 * request parameters and answers that several resources share. Each resource's operations are in
 * a file of their own beside this one; `../contract.ts` puts them in one table.
 */

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface ResponseSpec {
  description: string;
  /** JSON body; omit for an empty body or a non-JSON `contentType`. */
  schema?: z.ZodType;
  contentType?: string;
}

export interface Operation {
  readonly id: string;
  readonly method: Method;
  /** The Fastify path (`:param`, a trailing `*` for the rest of the path). */
  readonly path: string;
  readonly summary: string;
  readonly description?: string;
  readonly tag:
    | 'workspaces'
    | 'agent'
    | 'files'
    | 'exec'
    | 'archives'
    | 'conversations'
    | 'runs'
    | 'usage'
    | 'snapshots'
    | 'terminal'
    | 'egress'
    | 'secrets'
    | 'webhooks'
    | 'tickets'
    | 'admin'
    | 'operations'
    | 'managed-agents';
  /**
   * `bearer`: a tenant token; `bearer-or-query`: also a single-use `?ticket=` (browsers'
   * EventSource and WebSocket) or, kept for older clients, `?access_token=`; `admin`: an admin token.
   */
  readonly auth: 'none' | 'bearer' | 'bearer-or-query' | 'admin';
  readonly params?: z.ZodObject;
  readonly query?: z.ZodObject;
  /** A JSON body. */
  readonly body?: z.ZodType;
  /** A raw (non-JSON) body. */
  readonly rawBody?: { contentType: string; description: string };
  /**
   * Starts new work (a run, an exec, a workspace, an upload): refused with 503
   * `dependency_unavailable` and `Retry-After` while a store of the host is down.
   */
  readonly newWork?: true;
  readonly responses: Readonly<Record<number, ResponseSpec>>;
}

/** Keeps an operation's literal types (its method, path and schemas) for `route()`. */
export const op = <const O extends Operation>(o: O): O => o;

export const idParam = (what: string) => z.string().describe(`the ${what} id`);

export const wsParams = z.object({ wid: idParam('workspace') });

export const convParams = z.object({ cid: idParam('conversation') });

/** The `nextCursor` of a paged list. */
export const nextCursor = z
  .string()
  .nullable()
  .describe('pass as `cursor` for the next page; null on the last page');

/** The 400 answer of a paged list. */
export const PAGE_400 = {
  description:
    '`invalid_cursor` (a cursor this list did not hand out) or `validation_failed` (a limit outside 1-1000)',
  schema: errorResponseSchema,
};

/** Why an operation that takes a ticket answers 401. */
export const TICKET_REFUSED =
  '`unauthorized` (no valid token) or `ticket_invalid`: the ticket is unknown, expired, already used, ' +
  'or was issued for another workspace or purpose';
