import { WorkcellError } from '@workcell/protocol';
import type { Logger } from 'pino';
import {
  CONTAINER_STATES,
  type ContainerRecord,
  type ContainerState,
  type StateStore,
} from '../state/state-store.js';
import { AgentClient } from './agent-client.js';
import type { EgressAttachment, EgressGateway, EgressIdentity } from './egress.js';
import { LABELS, type ContainerRuntime, type ContainerRuntimeName } from './runtime.js';
import type { Slot, SlotStore } from './slots.js';

export interface OrchestratorSettings {
  image: string;
  imageVersion: string;
  hostId: string;
  runtime: ContainerRuntimeName;
  limits: { memoryMb: number; cpus: number; pids: number; nofile: number };
  /** Non-secret environment for every agent (model provider, region). */
  agentEnv: Record<string, string>;
  /** Host dir of the Workcell CA's public files, mounted read-only when secrets are on. */
  trustDir?: string;
  /** How long a new container may take to answer on its agent socket. */
  startTimeoutMs: number;
  /** How long an existing container's agent may take to answer `/health` before it counts as dead. */
  probeTimeoutMs?: number;
}

/** A container ready to run for one workspace. */
export interface AcquiredContainer {
  record: ContainerRecord;
  slot: Slot;
  agent: AgentClient;
  /** How it was obtained: already assigned, claimed from the warm pool, or created cold. */
  source: 'assigned' | 'warm' | 'cold';
  acquireMs: number;
}

export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** States in which a container assigned to a workspace can take its next run. */
export const REUSABLE_STATES: readonly ContainerState[] = ['assigned', 'idle', 'paused'];
/** Every state but `removing`: what `remove` may move to `removing`. */
const REMOVABLE_STATES: readonly ContainerState[] = CONTAINER_STATES.filter(
  (s) => s !== 'removing',
);
/** Warm claims tried (dropping containers that do not answer) before a cold start. */
const MAX_WARM_CLAIMS = 3;

/** An egress listener this host holds for a container, and the slot it listens in. */
interface Held {
  attachment: EgressAttachment;
  slotId: string;
}

/**
 * Container lifecycle: creates hardened containers, hands one to a workspace (reusing its
 * assigned container, else claiming a warm one, else a cold start), records every transition
 * in the StateStore and on the slot's assignment record, and removes containers with their
 * host-side slot. Imports the `ContainerRuntime` port, never the engine's client.
 *
 * Hosts that share a StateStore and a data directory share containers: the host that acquires a
 * container for a run holds its egress listener (taking it over from the previous holder) and
 * records itself as the holder in the assignment record.
 */
export class Orchestrator {
  private readonly egress = new Map<string, Held>();
  /**
   * Listeners another host took over. They stay open until their slot is gone: closing one
   * unlinks the socket path, which is now the new holder's socket.
   */
  private readonly released = new Set<Held>();
  private readonly claimListeners = new Set<() => void>();

  constructor(
    private readonly deps: {
      runtime: ContainerRuntime;
      state: StateStore;
      slots: SlotStore;
      gateway: EgressGateway;
      settings: OrchestratorSettings;
      logger: Logger;
      clock?: Clock;
      /** Told when a container's slot is gone, so per-slot caches (the sync's) can drop it. */
      onSlotRemoved?: (slotId: string) => void;
    },
  ) {}

  get clock(): Clock {
    return this.deps.clock ?? systemClock;
  }

  get settings(): OrchestratorSettings {
    return this.deps.settings;
  }

  get slots(): SlotStore {
    return this.deps.slots;
  }

  slotOf(record: ContainerRecord): Slot {
    return this.deps.slots.slot(record.slotId);
  }

  agentOf(record: ContainerRecord): AgentClient {
    return new AgentClient(this.slotOf(record).agentSocket);
  }

  /** Does this host hold the container's egress listener? */
  holds(containerId: string): boolean {
    return this.egress.has(containerId);
  }

  /** Labels of a container created by this host; `pool` is `warm` or `direct` (cold start). */
  labelsFor(slotId: string, pool: 'warm' | 'direct'): Record<string, string> {
    const { settings, slots } = this.deps;
    return {
      [LABELS.managed]: 'true',
      [LABELS.pool]: pool,
      [LABELS.hostInstance]: settings.hostId,
      [LABELS.imageVersion]: settings.imageVersion,
      [LABELS.dataDir]: slots.dataDir,
      [LABELS.slot]: slotId,
    };
  }

  /**
   * Calls `listener` after every warm claim attempt, taken or not (the warm pool refills in the
   * background). Answers a function that unsubscribes.
   */
  onWarmClaim(listener: () => void): () => void {
    this.claimListeners.add(listener);
    return () => this.claimListeners.delete(listener);
  }

  /** The container assigned to a workspace, if any. */
  async assigned(workspaceId: string): Promise<ContainerRecord | null> {
    const id = await this.deps.state.getAssignment(workspaceId);
    return id ? this.deps.state.getContainer(id) : null;
  }

  /**
   * A container for `workspaceId`: its assigned one when that answers, else a warm one from the
   * pool, else a new one. Nothing is created on the warm path. The caller holds the workspace's
   * run lease.
   */
  async acquire(tenant: string, workspaceId: string): Promise<AcquiredContainer> {
    const started = this.clock.now();
    const { state, settings, slots, logger } = this.deps;
    const identity = (containerId: string): EgressIdentity => ({
      workspaceId,
      tenant,
      containerId,
    });

    const current = await this.assigned(workspaceId);
    if (current && REUSABLE_STATES.includes(current.state)) {
      if (current.state === 'paused') await this.resume(current).catch(() => undefined);
      if (await this.responds(current)) {
        const slot = this.slotOf(current);
        if (await this.hold(current, identity(current.id), slots.readAssignment(slot)?.hostId)) {
          slots.updateAssignment(slot, { hostId: settings.hostId });
        }
        return this.ready(current, 'assigned', started);
      }
      logger.warn(
        { containerId: current.id, workspaceId },
        'assigned container does not answer; replacing it',
      );
      await this.remove(current.id, 'assigned container does not answer');
    } else if (current) {
      // `running`, `removing`, `failed` or `creating`: not usable; the caller holds the run
      // lease, so a `running` record is left over from a run that died with its host.
      await this.remove(current.id, `assigned container in state ${current.state}`);
    }

    try {
      for (let attempt = 0; attempt < MAX_WARM_CLAIMS; attempt += 1) {
        const warm = await state.claimWarm(settings.image, workspaceId, tenant, this.clock.now());
        if (!warm) break;
        if (await this.responds(warm)) {
          await this.hold(warm, identity(warm.id), undefined);
          slots.writeAssignment(this.slotOf(warm), {
            containerId: warm.id,
            workspaceId,
            tenant,
            assignedAt: warm.stateChangedAt,
            hostId: settings.hostId,
            runId: null,
            lastRunEndedAt: null,
          });
          return this.ready(warm, 'warm', started);
        }
        logger.warn(
          { containerId: warm.id },
          'claimed warm container does not answer; dropping it',
        );
        await this.remove(warm.id, 'warm container does not answer');
      }
    } finally {
      for (const listener of this.claimListeners) listener();
    }

    const record = await this.createContainer({ tenant, workspaceId });
    return this.ready(record, 'cold', started);
  }

  private ready(
    record: ContainerRecord,
    source: AcquiredContainer['source'],
    started: number,
  ): AcquiredContainer {
    return {
      record,
      slot: this.slotOf(record),
      agent: this.agentOf(record),
      source,
      acquireMs: this.clock.now() - started,
    };
  }

  /** Does the container's agent answer `/health` and have no run of its own? */
  async responds(record: ContainerRecord): Promise<boolean> {
    try {
      const health = await this.agentOf(record).health(this.deps.settings.probeTimeoutMs ?? 2000);
      return !health.busy;
    } catch {
      return false;
    }
  }

  /**
   * Makes this host the holder of the container's egress listener, for `identity`. `previousHolder`
   * is the host the assignment record names (undefined: the creator). A listener this host
   * opened earlier is reused only while no other host has taken it over since. Answers whether
   * it opened a new listener.
   */
  private async hold(
    record: ContainerRecord,
    identity: EgressIdentity,
    previousHolder: string | undefined,
  ): Promise<boolean> {
    const held = this.egress.get(record.id);
    if (held && (previousHolder === undefined || previousHolder === this.deps.settings.hostId)) {
      held.attachment.setIdentity(identity);
      return false;
    }
    if (held) {
      this.egress.delete(record.id);
      this.released.add(held);
    }
    const attachment = await this.deps.gateway.attach(this.slotOf(record).egressSocket, identity);
    this.egress.set(record.id, { attachment, slotId: record.slotId });
    this.deps.logger.info(
      { containerId: record.id, previousHolder: previousHolder ?? 'creator' },
      'egress listener taken over',
    );
    return true;
  }

  /**
   * Creates, starts and health-checks one container. With `assign` it goes straight to
   * `assigned`; without, it becomes `warm` and joins the pool.
   */
  async createContainer(assign?: {
    tenant: string;
    workspaceId: string;
  }): Promise<ContainerRecord> {
    const { runtime, state, slots, gateway, settings, logger } = this.deps;
    const slot = await slots.create();
    const attachment = await gateway.attach(slot.egressSocket, {
      workspaceId: assign?.workspaceId ?? null,
      tenant: assign?.tenant ?? null,
      containerId: null,
    });
    let id: string | null = null;
    try {
      id = await runtime.create({
        slotId: slot.id,
        image: settings.image,
        labels: this.labelsFor(slot.id, assign ? 'direct' : 'warm'),
        mounts: {
          socketDir: slot.socketDir,
          egressDir: slot.egressDir,
          workspace: slot.workspaceDir,
          claudeConfig: slot.claudeDir,
          ...(settings.trustDir ? { trust: settings.trustDir } : {}),
        },
        env: settings.agentEnv,
        limits: settings.limits,
        runtime: settings.runtime,
      });
      this.egress.set(id, { attachment, slotId: slot.id });
      attachment.setIdentity({
        workspaceId: assign?.workspaceId ?? null,
        tenant: assign?.tenant ?? null,
        containerId: id,
      });
      const now = this.clock.now();
      await state.putContainer({
        id,
        slotId: slot.id,
        hostId: settings.hostId,
        image: settings.image,
        state: 'creating',
        workspaceId: assign?.workspaceId ?? null,
        tenant: assign?.tenant ?? null,
        createdAt: now,
        stateChangedAt: now,
        lastRunEndedAt: null,
        runId: null,
      });
      if (assign) {
        slots.writeAssignment(slot, {
          containerId: id,
          workspaceId: assign.workspaceId,
          tenant: assign.tenant,
          assignedAt: now,
          hostId: settings.hostId,
          runId: null,
          lastRunEndedAt: null,
        });
      }
      await runtime.start(id);
      await new AgentClient(slot.agentSocket).waitHealthy(settings.startTimeoutMs);
      const next: ContainerState = assign ? 'assigned' : 'warm';
      const record = await state.transitionContainer(
        id,
        ['creating'],
        { state: next },
        this.clock.now(),
      );
      if (!record)
        throw new WorkcellError(
          'container_start_failed',
          `container ${id} changed state while starting`,
        );
      if (assign) await state.setAssignment(assign.workspaceId, id);
      else await state.addWarm(settings.image, id);
      logger.info(
        { containerId: id, slotId: slot.id, state: next, workspaceId: assign?.workspaceId ?? null },
        'container ready',
      );
      return record;
    } catch (err) {
      logger.error(
        { containerId: id, slotId: slot.id, err: String(err) },
        'container failed to start',
      );
      if (id) {
        await this.remove(id, 'failed to start', slot.id).catch(() => undefined);
      } else {
        await attachment.close().catch(() => undefined);
        await slots.remove(slot.id).catch(() => undefined);
      }
      if (err instanceof WorkcellError) throw err;
      throw new WorkcellError(
        'container_start_failed',
        `container failed to start: ${String(err)}`,
      );
    }
  }

  /** Marks the container `running` for `runId`; false when it was not idle or assigned. */
  async beginRun(containerId: string, runId: string): Promise<boolean> {
    const record = await this.deps.state.transitionContainer(
      containerId,
      ['assigned', 'idle'],
      { state: 'running', runId },
      this.clock.now(),
    );
    if (!record) return false;
    this.noteOnDisk(record, { runId });
    return true;
  }

  /** Marks the run over: the idle clock starts now. */
  async endRun(containerId: string): Promise<void> {
    const now = this.clock.now();
    const record = await this.deps.state.transitionContainer(
      containerId,
      ['running'],
      { state: 'idle', runId: null, lastRunEndedAt: now },
      now,
    );
    if (record) this.noteOnDisk(record, { runId: null, lastRunEndedAt: now });
  }

  /** Mirrors run progress into the slot's assignment record (best effort: the state store leads). */
  private noteOnDisk(
    record: ContainerRecord,
    patch: { runId?: string | null; lastRunEndedAt?: number },
  ): void {
    try {
      this.deps.slots.updateAssignment(this.slotOf(record), patch);
    } catch (err) {
      this.deps.logger.warn(
        { containerId: record.id, err: String(err) },
        'assignment record not updated',
      );
    }
  }

  async markFailed(containerId: string, reason: string): Promise<void> {
    this.deps.logger.warn({ containerId, reason }, 'container marked failed');
    await this.deps.state.transitionContainer(
      containerId,
      ['creating', 'warm', 'assigned', 'running', 'idle', 'paused'],
      { state: 'failed', runId: null },
      this.clock.now(),
    );
  }

  /** Freezes an idle container (its processes stop being scheduled; memory stays). */
  async pause(containerId: string): Promise<boolean> {
    const record = await this.deps.state.transitionContainer(
      containerId,
      ['idle'],
      { state: 'paused' },
      this.clock.now(),
    );
    if (!record) return false;
    try {
      await this.deps.runtime.pause(containerId);
      return true;
    } catch (err) {
      await this.deps.state.transitionContainer(
        containerId,
        ['paused'],
        { state: 'idle' },
        this.clock.now(),
      );
      throw err;
    }
  }

  private async resume(record: ContainerRecord): Promise<void> {
    await this.deps.runtime.unpause(record.id);
    await this.deps.state.transitionContainer(
      record.id,
      ['paused'],
      { state: 'idle' },
      this.clock.now(),
    );
  }

  /**
   * Stops and removes a container, its egress listener, its slot and its state. `slotId` names
   * the slot when the state store has no record of the container.
   */
  async remove(containerId: string, reason: string, slotId?: string): Promise<void> {
    const { runtime, state, slots, logger } = this.deps;
    const record = await state.getContainer(containerId);
    if (record) {
      await state.transitionContainer(
        containerId,
        REMOVABLE_STATES,
        { state: 'removing' },
        this.clock.now(),
      );
    }
    await runtime.remove(containerId);
    const held = this.egress.get(containerId);
    this.egress.delete(containerId);
    await held?.attachment.close().catch(() => undefined);
    const slot = record?.slotId ?? slotId ?? held?.slotId;
    if (slot) {
      await slots.remove(slot);
      await this.closeReleased((h) => h.slotId === slot);
      this.deps.onSlotRemoved?.(slot);
    }
    if (record?.workspaceId) await state.clearAssignment(record.workspaceId, containerId);
    await state.deleteContainer(containerId);
    logger.info({ containerId, reason }, 'container removed');
  }

  /**
   * Re-attaches the egress listener of a container this host adopts after a restart, and
   * records this host as its holder.
   */
  async adopt(record: ContainerRecord): Promise<void> {
    if (this.egress.has(record.id)) return;
    const slot = this.slotOf(record);
    const attachment = await this.deps.gateway.attach(slot.egressSocket, {
      workspaceId: record.workspaceId,
      tenant: record.tenant,
      containerId: record.id,
    });
    this.egress.set(record.id, { attachment, slotId: record.slotId });
    if (record.workspaceId)
      this.deps.slots.updateAssignment(slot, { hostId: this.deps.settings.hostId });
  }

  /**
   * Drops listeners whose container is gone (slot removed, by this host or another) and sets
   * aside those another host has taken over. The warm pool calls it on every tick.
   */
  async sweepListeners(): Promise<void> {
    const { slots, settings } = this.deps;
    for (const [id, held] of this.egress) {
      if (!slots.exists(held.slotId)) {
        this.egress.delete(id);
        await held.attachment.close().catch(() => undefined);
        continue;
      }
      const holder = slots.readAssignment(slots.slot(held.slotId))?.hostId;
      if (holder !== undefined && holder !== settings.hostId) {
        this.egress.delete(id);
        this.released.add(held);
      }
    }
    await this.closeReleased((h) => !slots.exists(h.slotId));
  }

  private async closeReleased(match: (held: Held) => boolean): Promise<void> {
    for (const held of [...this.released]) {
      if (!match(held)) continue;
      this.released.delete(held);
      await held.attachment.close().catch(() => undefined);
    }
  }

  /**
   * Closes every egress listener this host holds (containers keep running, and a restarted host
   * adopts them). Listeners another host has taken over stay open until the process exits.
   */
  async close(): Promise<void> {
    await this.sweepListeners().catch(() => undefined);
    await Promise.all(
      [...this.egress.values()].map((h) => h.attachment.close().catch(() => undefined)),
    );
    this.egress.clear();
  }
}
