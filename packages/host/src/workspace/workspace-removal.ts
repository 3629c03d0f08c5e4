import { WorkcellError } from '@workcell/protocol';
import type { Logger } from 'pino';
import type { Catalog } from '../catalog/catalog.js';
import type { ContainerRemover, WorkspaceContainers } from '../containers/run-containers.js';
import { LEASES, leaseHolder, withLease } from '../state/leases.js';
import type { StateStore } from '../state/state-store.js';
import type { Clock } from '../time/clock.js';
import type { WebhookEvents } from '../webhooks/publisher.js';

/** How long the run lease taken to delete a workspace lives without renewal. */
const DELETE_LEASE_TTL_MS = 120_000;

/** What the API asks to delete a workspace. */
export interface WorkspaceRemover {
  /** Deletes the workspace, its container and every stored object; `workspace_busy` while a run holds it. */
  remove(tenant: string, workspaceId: string): Promise<void>;
}

/**
 * Deletes a workspace under its run lease, so no run (and no files write) starts while its
 * container and stored objects go: a message racing the delete either finds the workspace busy
 * or, once it is gone, not found. The container goes through `removal`, which reaches the host
 * that owns it when that is another host.
 */
export class WorkspaceRemoval implements WorkspaceRemover {
  constructor(
    private readonly deps: {
      catalog: Catalog;
      containers: Pick<WorkspaceContainers, 'assigned'>;
      /** Removes a container record's container wherever it lives. */
      removal: ContainerRemover;
      state: StateStore;
      clock: Clock;
      logger: Logger;
      hostId: string;
      /**
       * Starts a collection of the tenant's blobs after a deletion; the bytes only the deleted
       * workspace named are deleted by a pass at least a grace after the one that first found
       * them unnamed (`blob-gc.ts`).
       */
      blobs?: { collect(tenant: string): Promise<unknown> };
      /** Where the deletion goes out as a `workspace.deleted` webhook. */
      webhooks?: WebhookEvents;
    },
  ) {}

  async remove(tenant: string, workspaceId: string): Promise<void> {
    const { catalog, containers, removal } = this.deps;
    const ws = await catalog.getWorkspace(tenant, workspaceId);
    const done = await withLease(
      this.deps,
      {
        name: LEASES.workspace(ws.id),
        holder: leaseHolder('delete', this.deps.hostId),
        ttlMs: DELETE_LEASE_TTL_MS,
      },
      async () => {
        const record = await containers.assigned(ws.id);
        if (record) await removal.removeContainer(record, 'workspace deleted');
        await catalog.deleteWorkspace(tenant, ws.id);
      },
    );
    if (!done.held)
      throw new WorkcellError('workspace_busy', 'a run is in progress in this workspace');
    this.deps.blobs?.collect(tenant).catch((err: unknown) => {
      this.deps.logger.warn({ err, tenant }, 'blob collection after a deletion failed');
    });
    await this.deps.webhooks
      ?.publish(tenant, 'workspace.deleted', { workspaceId: ws.id, name: ws.name })
      .catch((err: unknown) => {
        this.deps.logger.error(
          { err, workspaceId: ws.id },
          'the deletion could not be put into the webhook outbox',
        );
      });
  }
}
