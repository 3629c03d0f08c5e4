import { createHash, randomBytes } from 'node:crypto';
import { WorkcellError, type TicketPurpose } from '@workcell/protocol';
import type { StateStore, TicketGrant } from '../state/state-store.js';
import type { Clock } from '../time/clock.js';

/** Every ticket starts with this, so one found in a log or a URL is recognisable. */
const TICKET_PREFIX = 'wct_';
/** 256 random bits, base64url: url-safe and far beyond guessing. */
const TICKET_BYTES = 32;
const TICKET_SHAPE = /^wct_[A-Za-z0-9_-]{43}$/;

/** The key a ticket's grant is stored under: its SHA-256, so the store never holds a ticket. */
const digestOf = (ticket: string): string => createHash('sha256').update(ticket).digest('hex');

export interface IssuedTicket {
  ticket: string;
  /** Epoch ms. */
  expiresAt: number;
}

/**
 * Tickets one tenant may be issued per TTL window. Each lives in the shared store until used or
 * expired, so this bounds what one tenant holds there (at most twice this many at once); a
 * browser needs one per connection it opens.
 */
export const TICKETS_PER_TENANT_PER_TTL = 1000;

export interface TicketServiceOptions {
  state: Pick<StateStore, 'putTicket' | 'takeTicket' | 'hit'>;
  clock: Pick<Clock, 'now'>;
  /** How long a ticket stays valid, ms (`WORKCELL_TICKET_TTL_MS`). */
  ttlMs: number;
  /** Default `TICKETS_PER_TENANT_PER_TTL`. */
  maxPerTenant?: number;
}

/**
 * Short-lived, single-use tickets with which browsers open the terminal WebSocket and run event
 * streams, whose URLs cannot carry an `Authorization` header. A ticket is bound to one tenant,
 * one workspace and one purpose; it is redeemed by taking its grant out of the StateStore in one
 * atomic step, so it opens one connection at most, on any host. Only its digest is stored.
 */
export class TicketService {
  constructor(private readonly options: TicketServiceOptions) {}

  /**
   * Issues a ticket for `workspaceId` of `tenant` (the caller has checked the workspace is
   * theirs). Throws `rate_limited` past the tenant's tickets for the current window.
   */
  async issue(tenant: string, workspaceId: string, purpose: TicketPurpose): Promise<IssuedTicket> {
    const max = this.options.maxPerTenant ?? TICKETS_PER_TENANT_PER_TTL;
    const { count, resetInMs } = await this.options.state.hit(
      `tickets:${tenant}`,
      this.options.ttlMs,
    );
    if (count > max) {
      const retryAfterSeconds = Math.max(1, Math.ceil(resetInMs / 1000));
      throw new WorkcellError(
        'rate_limited',
        `this tenant was issued ${max} tickets in ${this.options.ttlMs} ms; retry in ${retryAfterSeconds} s`,
        { retryAfterSeconds },
      );
    }
    const ticket = TICKET_PREFIX + randomBytes(TICKET_BYTES).toString('base64url');
    const expiresAt = this.options.clock.now() + this.options.ttlMs;
    const grant: TicketGrant = { tenant, workspaceId, purpose, expiresAt };
    await this.options.state.putTicket(digestOf(ticket), grant, this.options.ttlMs);
    return { ticket, expiresAt };
  }

  /**
   * Redeems a ticket for `purpose`: answers its grant and uses it up. Throws `ticket_invalid`
   * when it is malformed, unknown, expired, already used or for another purpose (a ticket
   * presented for the wrong purpose is used up all the same). The caller checks the workspace.
   */
  async redeem(ticket: string, purpose: TicketPurpose): Promise<TicketGrant> {
    if (!TICKET_SHAPE.test(ticket)) throw invalid();
    const grant = await this.options.state.takeTicket(digestOf(ticket));
    if (!grant || grant.expiresAt <= this.options.clock.now() || grant.purpose !== purpose) {
      throw invalid();
    }
    return grant;
  }
}

/**
 * Throws `ticket_invalid` unless the ticket that authenticated the request (if one did) was
 * issued for `workspaceId`.
 */
export function assertTicketWorkspace(grant: TicketGrant | null, workspaceId: string): void {
  if (grant && grant.workspaceId !== workspaceId) throw invalid();
}

/** One message for every refusal, so a refusal does not tell which check failed. */
function invalid(): WorkcellError {
  return new WorkcellError(
    'ticket_invalid',
    'the ticket is unknown, expired, already used, or for another workspace or purpose',
  );
}
