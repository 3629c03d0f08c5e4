import type { Logger } from 'pino';
import type { Slot } from '../containers/slots.js';
import * as layout from '../storage/layout.js';
import type { ObjectStore } from '../storage/object-store.js';
import { syncIn, syncOut } from '../sync/file-sync.js';
import type { Manifest } from '../sync/manifest.js';
import type { WorkspaceSync } from './workspace-sync.js';

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

/**
 * Syncs a workspace's files (`/workspace`) and the agent's session transcripts
 * (`CLAUDE_CONFIG_DIR`) between the object store and a container's slot, incrementally: it
 * remembers what each slot held after its last sync, so unchanged files are neither read nor
 * transferred.
 */
export class ObjectStoreWorkspaceSync implements WorkspaceSync {
  private readonly known = new Map<string, Known>();

  constructor(
    private readonly store: ObjectStore,
    private readonly settings: { maxFileBytes: number; logger: Logger; observe?: SyncObserver },
  ) {}

  async syncIn(tenant: string, workspaceId: string, slot: Slot): Promise<void> {
    const started = Date.now();
    const known = this.known.get(slot.id);
    // Files and transcripts are independent trees: sync them at the same time.
    const [files, sessions] = await Promise.all([
      syncIn({
        dir: slot.workspaceDir,
        store: this.store,
        filesPrefix: layout.workspaceFilesPrefix(tenant, workspaceId),
        manifestKey: layout.workspaceManifestKey(tenant, workspaceId),
        logger: this.settings.logger,
        ...(known ? { known: known.files } : {}),
      }),
      syncIn({
        dir: slot.claudeDir,
        store: this.store,
        filesPrefix: layout.sessionsPrefix(tenant, workspaceId),
        manifestKey: layout.sessionsManifestKey(tenant, workspaceId),
        logger: this.settings.logger,
        ...(known ? { known: known.sessions } : {}),
      }),
    ]);
    this.known.set(slot.id, { files: files.manifest, sessions: sessions.manifest });
    for (const s of [...files.skipped, ...sessions.skipped]) {
      this.settings.logger.warn(
        { workspaceId, path: s.path, reason: s.reason },
        'sync in skipped an entry',
      );
    }
    this.settings.observe?.({
      direction: 'in',
      bytes: files.bytes + sessions.bytes,
      durationMs: Date.now() - started,
      files: files.written.length + sessions.written.length,
    });
  }

  async syncOut(tenant: string, workspaceId: string, slot: Slot): Promise<void> {
    const started = Date.now();
    const [files, sessions] = await Promise.all([
      syncOut({
        dir: slot.workspaceDir,
        store: this.store,
        filesPrefix: layout.workspaceFilesPrefix(tenant, workspaceId),
        manifestKey: layout.workspaceManifestKey(tenant, workspaceId),
        maxFileBytes: this.settings.maxFileBytes,
        logger: this.settings.logger,
      }),
      syncOut({
        dir: slot.claudeDir,
        store: this.store,
        filesPrefix: layout.sessionsPrefix(tenant, workspaceId),
        manifestKey: layout.sessionsManifestKey(tenant, workspaceId),
        maxFileBytes: this.settings.maxFileBytes,
        logger: this.settings.logger,
      }),
    ]);
    this.known.set(slot.id, { files: files.manifest, sessions: sessions.manifest });
    for (const s of files.skipped) {
      this.settings.logger.warn(
        { workspaceId, path: s.path, reason: s.reason, detail: s.detail },
        'sync out skipped an entry',
      );
    }
    this.settings.observe?.({
      direction: 'out',
      bytes: files.bytes + sessions.bytes,
      durationMs: Date.now() - started,
      files: files.uploaded.length + sessions.uploaded.length,
    });
  }

  /** Forgets a slot (its container is gone). */
  forget(slotId: string): void {
    this.known.delete(slotId);
  }
}
