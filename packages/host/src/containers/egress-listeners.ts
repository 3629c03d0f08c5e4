import type { Logger } from 'pino';
import type { ContainerRecord } from '../state/state-store.js';
import type { EgressAttachment, EgressGateway, EgressIdentity } from './egress.js';
import type { SlotStore } from './slots.js';

/** An egress listener this host holds for a container, and the slot it listens in. */
interface Held {
  attachment: EgressAttachment;
  slotId: string;
}

/**
 * The egress listeners this host holds, one per container it serves, on the container's
 * `egress.sock`. Hosts that share a data directory share containers: the host that serves a
 * container holds its listener and records itself as the holder in `assignment.json`; a host
 * that sees another holder named there lets go of its own listener without closing it (closing
 * a Unix-socket server unlinks the path, which is now the new holder's socket) and closes it
 * once the slot is gone.
 */
export class EgressListeners {
  private readonly held = new Map<string, Held>();
  /** Listeners another host took over; closed once their slot is gone. */
  private readonly released = new Set<Held>();

  constructor(
    private readonly deps: {
      gateway: EgressGateway;
      slots: SlotStore;
      hostId: string;
      logger: Logger;
    },
  ) {}

  /** Does this host hold the container's egress listener? */
  holds(containerId: string): boolean {
    return this.held.has(containerId);
  }

  /** Opens a listener on a new slot, before its container exists (`bind` names it later). */
  async open(slotId: string, identity: EgressIdentity): Promise<EgressAttachment> {
    return this.deps.gateway.attach(this.deps.slots.slot(slotId).egressSocket, identity);
  }

  /** Records `attachment` (from `open`) as this host's listener for `containerId`. */
  bind(containerId: string, slotId: string, attachment: EgressAttachment): void {
    this.held.set(containerId, { attachment, slotId });
  }

  /**
   * Makes this host the holder of the container's listener, for `identity`. `previousHolder` is
   * the host the assignment record names (undefined: the creator). A listener this host opened
   * earlier is reused only while no other host has taken it over since. Answers whether it
   * opened a new listener.
   */
  async take(
    record: ContainerRecord,
    identity: EgressIdentity,
    previousHolder: string | undefined,
  ): Promise<boolean> {
    const held = this.held.get(record.id);
    if (held && (previousHolder === undefined || previousHolder === this.deps.hostId)) {
      held.attachment.setIdentity(identity);
      return false;
    }
    if (held) {
      this.held.delete(record.id);
      this.released.add(held);
    }
    const attachment = await this.open(record.slotId, identity);
    this.bind(record.id, record.slotId, attachment);
    this.deps.logger.info(
      { containerId: record.id, previousHolder: previousHolder ?? 'creator' },
      'egress listener taken over',
    );
    return true;
  }

  /** Re-attaches the listener of a container this host adopts after a restart (no-op when held). */
  async adopt(record: ContainerRecord): Promise<void> {
    if (this.held.has(record.id)) return;
    const attachment = await this.open(record.slotId, {
      workspaceId: record.workspaceId,
      tenant: record.tenant,
      containerId: record.id,
    });
    this.bind(record.id, record.slotId, attachment);
  }

  /**
   * Closes the container's listener (its container is being removed) and any released listener
   * of `slotId` once that slot is gone. Answers the slot the listener was on, if any.
   */
  async drop(containerId: string): Promise<string | undefined> {
    const held = this.held.get(containerId);
    this.held.delete(containerId);
    if (held) await this.closeQuietly(held.attachment, containerId);
    return held?.slotId;
  }

  /** Closes listeners another host took over on a slot that is now gone. */
  async slotRemoved(slotId: string): Promise<void> {
    await this.closeReleased((h) => h.slotId === slotId);
  }

  /**
   * Drops listeners whose container is gone (slot removed, by this host or another) and sets
   * aside those another host has taken over. The warm pool calls it on every tick.
   */
  async sweep(): Promise<void> {
    const { slots, hostId } = this.deps;
    for (const [id, held] of this.held) {
      if (!slots.exists(held.slotId)) {
        this.held.delete(id);
        await this.closeQuietly(held.attachment, id);
        continue;
      }
      const holder = slots.readAssignment(slots.slot(held.slotId))?.hostId;
      if (holder !== undefined && holder !== hostId) {
        this.held.delete(id);
        this.released.add(held);
      }
    }
    await this.closeReleased((h) => !slots.exists(h.slotId));
  }

  /**
   * Closes every listener this host holds (containers keep running, and a restarted host adopts
   * them). Listeners another host has taken over stay open until the process exits.
   */
  async close(): Promise<void> {
    try {
      await this.sweep();
    } catch (err) {
      this.deps.logger.warn({ err }, 'sweeping egress listeners failed; closing them all');
    }
    await Promise.all(
      [...this.held.entries()].map(([id, h]) => this.closeQuietly(h.attachment, id)),
    );
    this.held.clear();
  }

  private async closeReleased(match: (held: Held) => boolean): Promise<void> {
    for (const held of [...this.released]) {
      if (!match(held)) continue;
      this.released.delete(held);
      await this.closeQuietly(held.attachment, null);
    }
  }

  /** A listener that fails to close has nothing left to serve: the failure is logged, not thrown. */
  private async closeQuietly(
    attachment: EgressAttachment,
    containerId: string | null,
  ): Promise<void> {
    try {
      await attachment.close();
    } catch (err) {
      this.deps.logger.warn({ containerId, err }, 'closing an egress listener failed');
    }
  }
}
