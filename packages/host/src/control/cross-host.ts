import type { Logger } from 'pino';
import type { Orchestrator } from '../containers/orchestrator.js';
import type { ContainerRemover } from '../containers/run-containers.js';
import type { PolicyStore } from '../egress/policy-store.js';
import type { ContainerRecord, StateStore } from '../state/state-store.js';
import type { ControlBus, ControlHandler } from './control-bus.js';
import { ControlMessages } from './control-messages.js';

/**
 * Requests that must reach the host holding a run or a container, wherever they arrive: an
 * interrupt, removing a container (workspace deleted, or the workspace moved to another host),
 * and an egress-policy change. Sends them on the control bus and acts on those it hears.
 */
export class CrossHostControl implements ContainerRemover {
  private readonly unsubscribe: () => void;
  private readonly messages: ControlMessages;

  constructor(
    private readonly deps: {
      bus: ControlBus;
      containers: Pick<Orchestrator, 'remove' | 'isLocal'>;
      state: StateStore;
      policies: Pick<PolicyStore, 'reloadCached'>;
      /** Interrupts a run of this host; false when this host does not run it. */
      interruptLocal: (runId: string) => boolean;
      /** Syncs a workspace's files into its container, when this host has it between runs. */
      pushFiles: (tenant: string, workspaceId: string) => Promise<void>;
      logger: Logger;
    },
  ) {
    this.messages = new ControlMessages(deps);
    this.unsubscribe = deps.bus.subscribe(this.handle);
  }

  /** Asks the host running `runId` to interrupt it. */
  async interrupt(runId: string): Promise<void> {
    await this.messages.interrupt(runId);
  }

  /**
   * Removes a container: at once when this host reaches it, else by its owner. The workspace
   * stops naming it first, so no request is sent to it meanwhile.
   */
  async removeContainer(record: ContainerRecord, reason: string): Promise<void> {
    const { containers } = this.deps;
    if (containers.isLocal(record)) await containers.remove(record.id, reason);
    else await this.messages.removeElsewhere(record, reason);
  }

  /** Tells the host holding the workspace's container that its files changed. */
  async filesChanged(tenant: string, workspaceId: string): Promise<void> {
    await this.messages.filesChanged(tenant, workspaceId);
  }

  /** Tells every other host that a workspace's egress policy changed. */
  async egressChanged(tenant: string, workspaceId: string): Promise<void> {
    await this.messages.egressChanged(tenant, workspaceId);
  }

  close(): void {
    this.unsubscribe();
  }

  private readonly handle: ControlHandler = async (message) => {
    const { containers, state, policies, logger } = this.deps;
    switch (message.type) {
      case 'interrupt':
        if (this.deps.interruptLocal(message.runId)) {
          logger.info({ runId: message.runId, from: message.from }, 'run interrupted for a peer');
        }
        return;
      case 'remove-container': {
        const record = await state.getContainer(message.containerId);
        if (!record || !containers.isLocal(record)) return;
        await containers.remove(record.id, `${message.reason} (via ${message.from})`);
        return;
      }
      case 'files-changed':
        await this.deps.pushFiles(message.tenant, message.workspaceId);
        return;
      case 'egress-changed':
        await policies.reloadCached(message.tenant, message.workspaceId);
        return;
      case 'answer':
        // Delivered by the approvals service, which listens on the bus itself.
        return;
    }
  };
}
