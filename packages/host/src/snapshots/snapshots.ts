import { WorkcellError } from '@workcell/protocol';
import type { Logger } from 'pino';
import type { Page, PageRequest } from '../catalog/page.js';
import * as layout from '../storage/layout.js';
import type { ObjectStore } from '../storage/object-store.js';
import { isContentAddressed, migrateToBlobs, tenantBlobs } from '../sync/content.js';
import { readManifest, writeManifest, type Manifest } from '../sync/manifest.js';
import type { Clock } from '../time/clock.js';
import { withBlobHold } from './blob-holds.js';
import {
  decodeSnapshotRecord,
  encodeSnapshotRecord,
  snapshotOf,
  snapshotView,
  type SnapshotRecord,
  type SnapshotView,
} from './snapshot-record.js';

export interface SnapshotSettings {
  /** Snapshots kept per workspace (`WORKCELL_SNAPSHOT_KEEP`); older ones are deleted. */
  keep: number;
  clock: Clock;
  logger: Logger;
  /** Runs `work` holding the workspace lock; throws `workspace_busy` when another holds it. */
  withWorkspaceLock: <T>(workspaceId: string, work: () => Promise<T>) => Promise<T>;
  /** Called (not awaited) after retention deleted snapshots: their blobs may be unnamed now. */
  retired?: (tenant: string) => void;
}

function notFound(): WorkcellError {
  return new WorkcellError('not_found', 'snapshot not found');
}

/**
 * A workspace's snapshots: its content-addressed manifest recorded after every sync out that
 * changed something, or on request. A snapshot names blobs; it never copies bytes. The newest
 * `keep` are kept.
 */
export class Snapshots {
  constructor(
    private readonly store: ObjectStore,
    private readonly settings: SnapshotSettings,
  ) {}

  /**
   * Records `manifest` (the workspace's live one, written by the caller under the workspace
   * lock, so it names only stored blobs) as a snapshot, then applies retention.
   */
  async record(
    tenant: string,
    workspaceId: string,
    manifest: Manifest,
    runId: string | null,
  ): Promise<SnapshotRecord> {
    if (!isContentAddressed(manifest))
      throw new WorkcellError('internal', 'only a content-addressed manifest can be snapshotted');
    const record = snapshotOf(workspaceId, manifest, runId, this.settings.clock.now());
    await this.write(tenant, record);
    await this.retain(tenant, workspaceId);
    return record;
  }

  /**
   * Takes a snapshot of the workspace's files as last stored. A path-addressed workspace is
   * moved to blobs first, under the workspace lock (`workspace_busy` while work holds it).
   */
  async take(tenant: string, workspaceId: string): Promise<SnapshotView> {
    const manifestKey = layout.workspaceManifestKey(tenant, workspaceId);
    const live = await readManifest(this.store, manifestKey);
    if (isContentAddressed(live)) {
      const record = await withBlobHold(this.store, this.settings.clock, tenant, async () =>
        this.record(tenant, workspaceId, await readManifest(this.store, manifestKey), null),
      );
      return snapshotView(record);
    }
    return this.settings.withWorkspaceLock(workspaceId, async () => {
      const current = await readManifest(this.store, manifestKey);
      const filesPrefix = layout.workspaceFilesPrefix(tenant, workspaceId);
      const moved = await migrateToBlobs(this.store, tenantBlobs(tenant), filesPrefix, current);
      if (!isContentAddressed(current)) {
        await writeManifest(this.store, manifestKey, moved);
        await this.store.deletePrefix(filesPrefix);
      }
      return snapshotView(await this.record(tenant, workspaceId, moved, null));
    });
  }

  /**
   * Makes the snapshot's manifest the workspace's live one, under the workspace lock
   * (`workspace_busy` while a run holds it) and a blob hold (it names blobs it did not upload),
   * then calls `pushed` still under the lock to bring the workspace's container up to date.
   */
  async restore(
    tenant: string,
    workspaceId: string,
    snapshotId: string,
    pushed: (tenant: string, workspaceId: string) => Promise<void>,
  ): Promise<SnapshotView> {
    const record = await this.get(tenant, workspaceId, snapshotId);
    return this.settings.withWorkspaceLock(workspaceId, () =>
      this.restoreHeld(tenant, workspaceId, record, pushed),
    );
  }

  /**
   * `restore` for a caller that already holds the workspace lock (a rewind that also moves
   * the conversation).
   */
  async restoreHeld(
    tenant: string,
    workspaceId: string,
    record: SnapshotRecord,
    pushed: (tenant: string, workspaceId: string) => Promise<void>,
  ): Promise<SnapshotView> {
    return withBlobHold(this.store, this.settings.clock, tenant, async () => {
      const manifestKey = layout.workspaceManifestKey(tenant, workspaceId);
      const live = await readManifest(this.store, manifestKey);
      await writeManifest(this.store, manifestKey, record.manifest);
      if (!isContentAddressed(live))
        await this.store.deletePrefix(layout.workspaceFilesPrefix(tenant, workspaceId));
      await pushed(tenant, workspaceId);
      return snapshotView(record);
    });
  }

  /**
   * The files as they stood when a run ended: the snapshot its sync out recorded, else (it
   * changed nothing) the newest one recorded before it ended; null when none is kept.
   */
  async asOfRun(
    tenant: string,
    workspaceId: string,
    run: { id: string; endedAt: string | null },
  ): Promise<SnapshotRecord | null> {
    const own = await this.ofRun(tenant, workspaceId, run.id);
    if (own !== null || run.endedAt === null) return own;
    const endedMs = Date.parse(run.endedAt);
    let after: string | null = null;
    for (;;) {
      const page: Page<SnapshotView> = await this.page(tenant, workspaceId, { after, limit: 100 });
      const hit = page.items.find((s) => Date.parse(s.createdAt) <= endedMs);
      if (hit) return this.read(tenant, workspaceId, hit.id);
      if (page.nextKey === null) return null;
      after = page.nextKey;
    }
  }

  /** Every snapshot from `upTo` back to the oldest kept, newest first (a fork copies them). */
  async upTo(tenant: string, workspaceId: string, upTo: SnapshotRecord): Promise<SnapshotRecord[]> {
    const prefix = layout.snapshotsPrefix(tenant, workspaceId);
    const objects = await this.store.list(prefix, {
      startAfter: layout.snapshotKey(tenant, workspaceId, upTo.id),
    });
    const ids = objects
      .map((o) => layout.snapshotIdOfKey(tenant, workspaceId, o.key))
      .filter((id): id is string => id !== null);
    const older = await Promise.all(ids.map((id) => this.read(tenant, workspaceId, id)));
    return [upTo, ...older.filter((r): r is SnapshotRecord => r !== null)];
  }

  /** One page, newest first; `after` is the last id of the previous page. */
  async page(tenant: string, workspaceId: string, req: PageRequest): Promise<Page<SnapshotView>> {
    const prefix = layout.snapshotsPrefix(tenant, workspaceId);
    const objects = await this.store.list(prefix, {
      ...(req.after !== null ? { startAfter: `${prefix}${req.after}.json` } : {}),
      limit: req.limit + 1,
    });
    const ids = objects
      .map((o) => layout.snapshotIdOfKey(tenant, workspaceId, o.key))
      .filter((id): id is string => id !== null);
    const onPage = ids.slice(0, req.limit);
    const records = await Promise.all(onPage.map((id) => this.read(tenant, workspaceId, id)));
    const items = records.filter((r): r is SnapshotRecord => r !== null).map(snapshotView);
    return { items, nextKey: ids.length > req.limit ? (onPage.at(-1) ?? null) : null };
  }

  /** The snapshot, or `not_found` (also for a malformed id or another workspace's). */
  async get(tenant: string, workspaceId: string, snapshotId: string): Promise<SnapshotRecord> {
    if (!layout.SNAPSHOT_ID_PATTERN.test(snapshotId)) throw notFound();
    const record = await this.read(tenant, workspaceId, snapshotId);
    if (record === null) throw notFound();
    return record;
  }

  /** The newest snapshot, or null when the workspace has none. */
  async latest(tenant: string, workspaceId: string): Promise<SnapshotRecord | null> {
    const page = await this.page(tenant, workspaceId, { after: null, limit: 1 });
    const first = page.items[0];
    return first === undefined ? null : this.read(tenant, workspaceId, first.id);
  }

  /** The newest snapshot recorded by `runId`'s sync out, or null. */
  async ofRun(tenant: string, workspaceId: string, runId: string): Promise<SnapshotRecord | null> {
    let after: string | null = null;
    for (;;) {
      const page: Page<SnapshotView> = await this.page(tenant, workspaceId, { after, limit: 100 });
      const hit = page.items.find((s) => s.runId === runId);
      if (hit) return this.read(tenant, workspaceId, hit.id);
      if (page.nextKey === null) return null;
      after = page.nextKey;
    }
  }

  /** Writes a snapshot record as is (a fork copies its source's records this way). */
  async write(tenant: string, record: SnapshotRecord): Promise<void> {
    await this.store.put(
      layout.snapshotKey(tenant, record.workspaceId, record.id),
      await encodeSnapshotRecord(record),
      { contentType: 'application/gzip' },
    );
  }

  private async read(
    tenant: string,
    workspaceId: string,
    snapshotId: string,
  ): Promise<SnapshotRecord | null> {
    const key = layout.snapshotKey(tenant, workspaceId, snapshotId);
    const buf = await this.store.getBuffer(key);
    return buf === null ? null : decodeSnapshotRecord(buf, key);
  }

  /** Deletes the snapshots past the newest `keep`. */
  private async retain(tenant: string, workspaceId: string): Promise<void> {
    const prefix = layout.snapshotsPrefix(tenant, workspaceId);
    const keys = (await this.store.list(prefix)).map((o) => o.key);
    const old = keys.slice(this.settings.keep);
    if (old.length === 0) return;
    await this.store.deleteMany(old);
    this.settings.logger.debug({ workspaceId, deleted: old.length }, 'snapshots retired');
    this.settings.retired?.(tenant);
  }
}
