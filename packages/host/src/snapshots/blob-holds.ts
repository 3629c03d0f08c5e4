import { randomBytes } from 'node:crypto';
import * as layout from '../storage/layout.js';
import type { ObjectStore } from '../storage/object-store.js';
import type { Clock } from '../time/clock.js';

/**
 * A blob hold: a small object naming a writer that is about to reference blobs it did not
 * upload (a fork, a restore, a snapshot taken outside a sync). While a hold younger than the
 * collector's grace exists, the blob collector deletes nothing for the tenant (`blob-gc.ts`).
 */
export async function withBlobHold<T>(
  store: ObjectStore,
  clock: Clock,
  tenant: string,
  work: () => Promise<T>,
): Promise<T> {
  const key = layout.blobHoldKey(tenant, `hold_${randomBytes(9).toString('hex')}`);
  await store.put(key, JSON.stringify({ startedAtMs: clock.now() }), {
    contentType: 'application/json',
  });
  try {
    return await work();
  } finally {
    await store.delete(key);
  }
}
