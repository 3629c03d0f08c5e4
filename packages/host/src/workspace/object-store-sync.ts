import type { Logger } from 'pino';
import type { Slot } from '../containers/slots.js';
import type { TerminalActivity } from '../containers/terminal-activity.js';
import * as layout from '../storage/layout.js';
import type { ObjectStore } from '../storage/object-store.js';
import { syncIn, syncOut, type SkippedEntry } from '../sync/file-sync.js';
import type { Manifest } from '../sync/manifest.js';
import type { WorkspaceSync } from '../containers/workspace-sync.js';
import type { Snapshots } from '../snapshots/snapshots.js';
import { tenantBlobs, type ContentAddressing } from '../sync/content.js';

/** Observes each sync (metrics). */
export type SyncObserver = (e: {
  direction: 'in' | 'out';
  bytes: number;
  durationMs: number;
  files: number;
}) => void;

interface Known {
  files: Manifest;
  sessions: Manifest;
}

interface Tree {
  dir: string;
  store: ObjectStore;
  filesPrefix: string;
  manifestKey: string;
  blobs?: ContentAddressing;
  logger: Logger;
}

/** What both sync directions report. */
interface TreeResult {
  manifest: Manifest;
  skipped: SkippedEntry[];
  bytes: number;
}

/**
 * Syncs a workspace's files (`/workspace`) and the agent's session transcripts
 * (`CLAUDE_CONFIG_DIR`) between the object store and a container's slot, incrementally: it
 * remembers what each slot held after its last sync, so unchanged files are neither read nor
 * transferred.
 */
export class ObjectStoreWorkspaceSync implements WorkspaceSync {
  private readonly known = new Map<string, Known>();
  /** The sync in progress per slot: syncs of one slot run one after another, never at once. */
  private readonly inFlight = new Map<string, Promise<unknown>>();

  constructor(
    private readonly store: ObjectStore,
    private readonly settings: {
      maxFileBytes: number;
      logger: Logger;
      observe?: SyncObserver;
      /** Records a snapshot after every sync out that changed the workspace's files. */
      snapshots?: Pick<Snapshots, 'record'>;
      /** Open terminals: a sync in keeps what a terminal changed until it is synced out. */
      terminals?: Pick<TerminalActivity, 'unsynced' | 'syncOutStarted' | 'syncOutFailed'>;
    },
  ) {}

  /** The two trees of a slot: the workspace's files and the agent's session transcripts. */
  private trees(tenant: string, workspaceId: string, slot: Slot): [Tree, Tree] {
    const common = { store: this.store, logger: this.settings.logger };
    return [
      {
        ...common,
        dir: slot.workspaceDir,
        filesPrefix: layout.workspaceFilesPrefix(tenant, workspaceId),
        manifestKey: layout.workspaceManifestKey(tenant, workspaceId),
        blobs: tenantBlobs(tenant),
      },
      {
        ...common,
        dir: slot.claudeDir,
        filesPrefix: layout.sessionsPrefix(tenant, workspaceId),
        manifestKey: layout.sessionsManifestKey(tenant, workspaceId),
      },
    ];
  }

  /**
   * Runs `work` once every earlier sync of the slot has settled. Two syncs of one directory at
   * once (a run's sync in, and a push of files another host stored) would each remove the
   * other's temporary files as strangers.
   */
  private async serial<T>(slot: Slot, work: () => Promise<T>): Promise<T> {
    const previous = this.inFlight.get(slot.id) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(work);
    this.inFlight.set(slot.id, next);
    try {
      return await next;
    } finally {
      if (this.inFlight.get(slot.id) === next) this.inFlight.delete(slot.id);
    }
  }

  syncIn(tenant: string, workspaceId: string, slot: Slot): Promise<void> {
    return this.serial(slot, () => this.syncInNow(tenant, workspaceId, slot));
  }

  syncOut(tenant: string, workspaceId: string, slot: Slot, workId?: string): Promise<void> {
    return this.serial(slot, () => this.syncOutNow(tenant, workspaceId, slot, workId));
  }

  private async syncInNow(tenant: string, workspaceId: string, slot: Slot): Promise<void> {
    const started = Date.now();
    const known = this.known.get(slot.id);
    const [filesTree, sessionsTree] = this.trees(tenant, workspaceId, slot);
    // Files and transcripts are independent trees: sync them at the same time.
    const keepLocalChanges = this.settings.terminals?.unsynced(slot.id) ?? false;
    const [files, sessions] = await Promise.all([
      syncIn({ ...filesTree, ...(known ? { known: known.files } : {}), keepLocalChanges }),
      syncIn({ ...sessionsTree, ...(known ? { known: known.sessions } : {}) }),
    ]);
    this.finished(
      'in',
      slot,
      workspaceId,
      started,
      files,
      sessions,
      files.written.length + sessions.written.length,
    );
  }

  private async syncOutNow(
    tenant: string,
    workspaceId: string,
    slot: Slot,
    workId: string | undefined,
  ): Promise<void> {
    const started = Date.now();
    const maxFileBytes = this.settings.maxFileBytes;
    const [filesTree, sessionsTree] = this.trees(tenant, workspaceId, slot);
    const clean = this.settings.terminals?.syncOutStarted(slot.id);
    let files: Awaited<ReturnType<typeof syncOut>>;
    let sessions: Awaited<ReturnType<typeof syncOut>>;
    try {
      [files, sessions] = await Promise.all([
        syncOut({ ...filesTree, maxFileBytes }),
        syncOut({ ...sessionsTree, maxFileBytes }),
      ]);
    } catch (err) {
      // The slot holds the only copy of what changed: the next sync in keeps it.
      this.settings.terminals?.syncOutFailed(slot.id);
      throw err;
    }
    clean?.();
    // Still under the workspace lock: the manifest just written is the live one.
    if (files.changed && this.settings.snapshots) {
      const runId = workId?.startsWith('run_') ? workId : null;
      await this.settings.snapshots.record(tenant, workspaceId, files.manifest, runId);
    }
    this.finished(
      'out',
      slot,
      workspaceId,
      started,
      files,
      sessions,
      files.uploaded.length + sessions.uploaded.length,
    );
  }

  /** Remembers what the slot now holds, logs what was skipped and reports the sync. */
  private finished(
    direction: 'in' | 'out',
    slot: Slot,
    workspaceId: string,
    started: number,
    files: TreeResult,
    sessions: TreeResult,
    moved: number,
  ): void {
    this.known.set(slot.id, { files: files.manifest, sessions: sessions.manifest });
    for (const s of [...files.skipped, ...sessions.skipped]) {
      this.settings.logger.warn(
        { workspaceId, path: s.path, reason: s.reason, detail: s.detail },
        `sync ${direction} skipped an entry`,
      );
    }
    this.settings.observe?.({
      direction,
      bytes: files.bytes + sessions.bytes,
      durationMs: Date.now() - started,
      files: moved,
    });
  }

  /** Forgets a slot (its container is gone). */
  forget(slotId: string): void {
    this.known.delete(slotId);
  }
}
