import { join } from 'node:path';
import type { Logger } from 'pino';
import { ArchiveService } from './archive/archive-service.js';
import type { ResolvedConfig } from './config/load.js';
import type { Orchestrator } from './containers/orchestrator.js';
import type { SlotStore } from './containers/slots.js';
import type { WorkspaceSync } from './containers/workspace-sync.js';
import type { ControlMessages } from './control/control-messages.js';
import { StoreFilesService, withWriteLease } from './files/store-files-service.js';
import type { StateStore } from './state/state-store.js';
import type { ObjectStore } from './storage/object-store.js';
import type { Clock } from './time/clock.js';
import { FilePush } from './workspace/file-push.js';

/**
 * Builds the files API's service and archives over the object store; after either stores
 * files, the workspace's idle container is brought up to date (`workspace/file-push.ts`).
 */
export async function wireFiles(
  config: ResolvedConfig,
  deps: {
    objects: ObjectStore;
    state: StateStore;
    clock: Clock;
    log: (component: string) => Logger;
    dataDir: string;
    orchestrator: Orchestrator;
    sync: WorkspaceSync;
    slots: SlotStore;
    messages: ControlMessages;
  },
) {
  const { objects, state, clock, log, dataDir, orchestrator, sync, slots, messages } = deps;
  const { hostId } = config;
  const filePush = new FilePush({ containers: orchestrator, sync, slots, remote: messages });
  const files = new StoreFilesService(objects, state, {
    maxFileBytes: config.maxFileBytes,
    hostId,
    clock,
    logger: log('files'),
    afterChange: filePush.stored,
  });
  const archives = new ArchiveService(objects, {
    limits: {
      maxBytes: config.archiveMaxBytes,
      maxUnpackedBytes: config.archiveMaxUnpackedBytes,
      maxEntries: config.archiveMaxEntries,
      maxRatio: config.archiveMaxRatio,
      maxFileBytes: config.maxFileBytes,
      maxConcurrent: config.archiveMaxUploads,
    },
    // One directory per host id: hosts that share a data directory never clear each other's.
    stagingDir: join(dataDir, 'staging', 'archives', hostId.replace(/^\.+$/, '_')),
    clock,
    logger: log('archives'),
    withLease: (workspaceId, work) =>
      withWriteLease(state, { hostId, clock, logger: log('archives') }, workspaceId, work),
    afterChange: filePush.stored,
  });
  await archives.clearStaging();
  return { files, archives, pushFiles: filePush.pushHere, filesChanged: filePush.stored };
}
