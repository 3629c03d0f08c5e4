import { acquireLease } from './acquire-lease.js';
import { appendRunEvent } from './append-run-event.js';
import { claimDeliveries } from './claim-deliveries.js';
import { clearAssignment } from './clear-assignment.js';
import { enqueueDelivery } from './enqueue-delivery.js';
import { hit } from './hit.js';
import { putContainer } from './put-container.js';
import { releaseLease } from './release-lease.js';
import { renewLease } from './renew-lease.js';
import { settleApproval } from './settle-approval.js';
import { settleDelivery } from './settle-delivery.js';
import { takeTicket } from './take-ticket.js';
import { transitionContainer } from './transition-container.js';

export type { LuaScript } from './script.js';

/**
 * Every compare-and-set of the Redis state store. The scripts live in TypeScript strings so
 * they ship in `dist` with the code that loads them. Each touches only the keys it is given in
 * KEYS, all in one hash slot, so it runs unchanged on Redis Cluster.
 */
export const SCRIPTS = {
  acquireLease,
  appendRunEvent,
  claimDeliveries,
  clearAssignment,
  enqueueDelivery,
  hit,
  putContainer,
  releaseLease,
  renewLease,
  settleApproval,
  settleDelivery,
  takeTicket,
  transitionContainer,
} as const;
