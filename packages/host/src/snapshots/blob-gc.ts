import type { Logger } from 'pino';
import * as layout from '../storage/layout.js';
import type { ObjectStore } from '../storage/object-store.js';
import { blobsOf } from '../sync/content.js';
import { readManifest } from '../sync/manifest.js';
import type { Clock } from '../time/clock.js';
import { decodeSnapshotRecord } from './snapshot-record.js';

/** The grace the host runs with: far longer than any sync out, fork or restore takes. */
export const BLOB_GC_GRACE_MS = 3_600_000;

/** What the collector keeps between passes. */
interface GcState {
  /** When the mark began (host clock). */
  markedAtMs: number;
  /** Blobs that no manifest and no snapshot named at that mark. */
  candidates: string[];
}

export interface BlobGcSettings {
  /**
   * At least the longest time a writer takes from reading a manifest that names a blob (or from
   * uploading it) to writing the manifest that names it: a sync out, a fork, a restore.
   */
  graceMs: number;
  clock: Clock;
  logger: Logger;
}

/** Streamed uploads older than this were left by a writer that died: they are deleted. */
export const STAGING_MAX_AGE_MS = 3_600_000;

export interface BlobGcResult {
  /** Blobs deleted by this pass. */
  deleted: number;
  /** Staging leftovers (uploads older than STAGING_MAX_AGE_MS) deleted by this pass. */
  staging: number;
  /** Blobs this pass found unnamed; the next pass, `graceMs` later, may delete them. */
  candidates: number;
  /** Whether deletion waited for a writer's hold. */
  postponed: boolean;
}

/** Allowance for the store's clock (an object's modification time) running ahead of the host's. */
const CLOCK_SKEW_MS = 60_000;

/**
 * Deletes a tenant's blobs that nothing names, safely while other hosts write. A pass marks:
 * it lists the blobs and the references (every workspace's live manifest and every snapshot)
 * and stores the unnamed blobs as candidates with the mark's time. A later pass, at least
 * `graceMs` after that mark and with no writer's hold (`blob-holds.ts`) open, deletes a
 * candidate only when it is still unnamed and was not stored again since the mark.
 *
 * Why nothing a writer needs is lost: a writer that uploads a blob stores it again (a fresh
 * modification time), so a candidate it revived is kept; a writer that names a blob it read
 * from a manifest finishes within `graceMs` of that read, so the second pass sees its manifest;
 * a fork or restore, which names blobs of another workspace or an older snapshot, holds a
 * hold while it works, and no deletion happens while one is open.
 */
export class BlobGc {
  constructor(
    private readonly store: ObjectStore,
    private readonly settings: BlobGcSettings,
  ) {}

  async collect(tenant: string): Promise<BlobGcResult> {
    const { clock, graceMs, logger } = this.settings;
    const startedAt = clock.now();
    const previous = await this.readState(tenant);
    const holds = await this.openHolds(tenant, startedAt);
    const named = await this.references(tenant);
    const blobs = await this.store.list(layout.blobsPrefix(tenant));
    const due =
      previous !== null && holds === 0 && startedAt - previous.markedAtMs >= graceMs
        ? new Set(previous.candidates)
        : new Set<string>();
    const doomed: string[] = [];
    const candidates: string[] = [];
    for (const blob of blobs) {
      const sha = layout.sha256OfBlobKey(tenant, blob.key);
      if (sha === null || named.has(sha)) continue;
      if (
        due.has(sha) &&
        previous !== null &&
        blob.modifiedAt.getTime() < previous.markedAtMs - CLOCK_SKEW_MS
      )
        doomed.push(blob.key);
      else candidates.push(sha);
    }
    if (doomed.length > 0) await this.store.deleteMany(doomed);
    const staging = await this.staleStaging(tenant, startedAt);
    if (staging.length > 0) await this.store.deleteMany(staging);
    // A pass that could not delete keeps the older mark: its candidates become due first.
    const keepOld = previous !== null && (holds > 0 || startedAt - previous.markedAtMs < graceMs);
    if (!keepOld) {
      const state: GcState = { markedAtMs: startedAt, candidates };
      await this.store.put(layout.blobGcKey(tenant), JSON.stringify(state), {
        contentType: 'application/json',
      });
    }
    const result = {
      deleted: doomed.length,
      staging: staging.length,
      candidates: candidates.length,
      postponed: holds > 0 && previous !== null,
    };
    logger.debug({ tenant, ...result }, 'blob collection');
    return result;
  }

  /**
   * One pass over every tenant that has blobs, staging leftovers or a mark (`workcell gc --once`
   * and the serving host's periodic GC run it). A tenant whose pass fails is logged and skipped.
   */
  async collectAll(): Promise<BlobGcResult> {
    const total: BlobGcResult = { deleted: 0, staging: 0, candidates: 0, postponed: false };
    for (const tenant of await this.tenants()) {
      try {
        const result = await this.collect(tenant);
        total.deleted += result.deleted;
        total.staging += result.staging;
        total.candidates += result.candidates;
        total.postponed ||= result.postponed;
      } catch (err) {
        this.settings.logger.warn({ err, tenant }, 'blob collection failed');
      }
    }
    return total;
  }

  /** Every tenant with an object, one listing of a single key per tenant. */
  private async tenants(): Promise<string[]> {
    const found: string[] = [];
    let after: string | undefined;
    for (;;) {
      const [first] = await this.store.list('tenants/', {
        ...(after !== undefined ? { startAfter: after } : {}),
        limit: 1,
      });
      if (first === undefined) return found;
      const tenant = layout.tenantOfKey(first.key);
      if (tenant === null) return found;
      found.push(tenant);
      after = layout.afterTenantKey(tenant);
    }
  }

  /** Staging objects older than STAGING_MAX_AGE_MS: uploads whose writer died before copying. */
  private async staleStaging(tenant: string, now: number): Promise<string[]> {
    const staged = await this.store.list(layout.blobStagingPrefix(tenant));
    return staged
      .filter((o) => now - o.modifiedAt.getTime() >= STAGING_MAX_AGE_MS)
      .map((o) => o.key);
  }

  private async readState(tenant: string): Promise<GcState | null> {
    const buf = await this.store.getBuffer(layout.blobGcKey(tenant));
    return buf === null ? null : (JSON.parse(buf.toString('utf8')) as GcState);
  }

  /** Holds younger than the grace (an older one belongs to a writer that died). */
  private async openHolds(tenant: string, now: number): Promise<number> {
    const holds = await this.store.list(layout.blobHoldsPrefix(tenant));
    return holds.filter((h) => now - h.modifiedAt.getTime() < this.settings.graceMs).length;
  }

  /** Every blob a live manifest or a snapshot of the tenant names. */
  private async references(tenant: string): Promise<Set<string>> {
    const named = new Set<string>();
    const index = await this.store.list(layout.workspaceIndexPrefix(tenant));
    for (const entry of index) {
      const wid = layout.workspaceIdOfIndexKey(tenant, entry.key);
      if (wid === null) continue;
      const live = await readManifest(this.store, layout.workspaceManifestKey(tenant, wid));
      for (const sha of blobsOf(live)) named.add(sha);
      for (const snap of await this.store.list(layout.snapshotsPrefix(tenant, wid))) {
        const buf = await this.store.getBuffer(snap.key);
        if (buf === null) continue;
        // A record that cannot be read throws: the pass deletes nothing rather than miss names.
        const record = await decodeSnapshotRecord(buf, snap.key);
        for (const sha of blobsOf(record.manifest)) named.add(sha);
      }
    }
    return named;
  }
}
