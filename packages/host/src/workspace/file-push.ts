import type { Orchestrator } from '../containers/orchestrator.js';
import type { SlotStore } from '../containers/slots.js';
import type { WorkspaceSync } from '../containers/workspace-sync.js';
import type { ContainerRecord } from '../state/state-store.js';

/**
 * Brings a workspace's idle container up to date after the API stored its files (a write, a
 * delete, an unpacked archive), still under the workspace lock the write holds, so a later
 * sync out never takes the change for a deletion.
 */
export class FilePush {
  constructor(
    private readonly deps: {
      containers: Pick<Orchestrator, 'assigned' | 'isLocal'>;
      sync: Pick<WorkspaceSync, 'syncIn'>;
      slots: Pick<SlotStore, 'slot'>;
      /** Tells the host that holds the workspace's container (`control/cross-host.ts`). */
      remote: { filesChanged(tenant: string, workspaceId: string): Promise<void> };
    },
  ) {}

  /**
   * After a write: the container is synced in here, or its host is told. The assignment is read
   * once per write.
   */
  readonly stored = async (tenant: string, workspaceId: string): Promise<void> => {
    const { containers, remote } = this.deps;
    const record = await containers.assigned(workspaceId);
    if (!record) return;
    if (containers.isLocal(record)) await this.push(tenant, workspaceId, record);
    else await remote.filesChanged(tenant, workspaceId);
  };

  /** Syncs the workspace's files into its container here, when it has one between runs. */
  readonly pushHere = async (tenant: string, workspaceId: string): Promise<void> => {
    const { containers } = this.deps;
    const record = await containers.assigned(workspaceId);
    if (!record || !containers.isLocal(record)) return;
    await this.push(tenant, workspaceId, record);
  };

  private async push(tenant: string, workspaceId: string, record: ContainerRecord): Promise<void> {
    if (record.state !== 'assigned' && record.state !== 'idle') return;
    await this.deps.sync.syncIn(tenant, workspaceId, this.deps.slots.slot(record.slotId));
  }
}
