import { acquireLease } from './acquire-lease.js';
import { appendRunEvent } from './append-run-event.js';
import { claimWarm } from './claim-warm.js';
import { clearAssignment } from './clear-assignment.js';
import { deleteContainer } from './delete-container.js';
import { hit } from './hit.js';
import { releaseLease } from './release-lease.js';
import { renewLease } from './renew-lease.js';
import { transitionContainer } from './transition-container.js';

export type { LuaScript } from './script.js';

/**
 * Every compare-and-set of the Redis state store. The scripts live in TypeScript strings so
 * they ship in `dist` with the code that loads them.
 */
export const SCRIPTS = {
  acquireLease,
  appendRunEvent,
  claimWarm,
  clearAssignment,
  deleteContainer,
  hit,
  releaseLease,
  renewLease,
  transitionContainer,
} as const;
