import type { ContainerRecord, StateStore } from '../state/state-store.js';
import type { ControlBus } from './control-bus.js';

/**
 * What this host tells the others: sending only, so the services that send can be built before
 * the ones that answer (`CrossHostControl` acts on what it hears).
 */
export class ControlMessages {
  constructor(private readonly deps: { bus: ControlBus; state: StateStore }) {}

  /** Asks the host running `runId` to interrupt it. */
  async interrupt(runId: string): Promise<void> {
    await this.deps.bus.publish({ type: 'interrupt', runId });
  }

  /**
   * Has a container of another host removed by its owner. The workspace stops naming it first,
   * so no request is sent to it meanwhile.
   */
  async removeElsewhere(record: ContainerRecord, reason: string): Promise<void> {
    if (record.workspaceId) await this.deps.state.clearAssignment(record.workspaceId, record.id);
    await this.deps.bus.publish({ type: 'remove-container', containerId: record.id, reason });
  }

  /** Tells the host holding the workspace's container that its files changed. */
  async filesChanged(tenant: string, workspaceId: string): Promise<void> {
    await this.deps.bus.publish({ type: 'files-changed', tenant, workspaceId });
  }

  /** Tells every other host that a workspace's egress policy changed. */
  async egressChanged(tenant: string, workspaceId: string): Promise<void> {
    await this.deps.bus.publish({ type: 'egress-changed', tenant, workspaceId });
  }
}
