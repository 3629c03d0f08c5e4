import { WorkcellError } from '@workcell/protocol';
import type { Logger } from 'pino';
import type { ContainerRecord, ContainerState, StateStore } from '../state/state-store.js';
import { AgentClient } from './agent-client.js';
import type { EgressAttachment, EgressGateway } from './egress.js';
import { LABELS, type ContainerRuntime, type ContainerRuntimeName } from './runtime.js';
import { SlotStore, type Slot } from './slots.js';

export interface OrchestratorSettings {
  image: string;
  imageVersion: string;
  hostId: string;
  runtime: ContainerRuntimeName;
  limits: { memoryMb: number; cpus: number; pids: number };
  /** Non-secret environment for every agent (model provider, region). */
  agentEnv: Record<string, string>;
  /** How long a new container may take to answer on its agent socket. */
  startTimeoutMs: number;
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

/**
 * Container lifecycle: creates hardened containers, hands one to a workspace (reusing its
 * assigned container, else claiming a warm one, else a cold start), records every transition
 * in the StateStore and removes containers with their host-side slot. Imports the
 * `ContainerRuntime` port, never the engine's client.
 */
export class Orchestrator {
  private readonly egress = new Map<string, EgressAttachment>();

  constructor(
    private readonly deps: {
      runtime: ContainerRuntime;
      state: StateStore;
      slots: SlotStore;
      gateway: EgressGateway;
      settings: OrchestratorSettings;
      logger: Logger;
      clock?: Clock;
    },
  ) {}

  private get clock(): Clock {
    return this.deps.clock ?? systemClock;
  }

  get settings(): OrchestratorSettings {
    return this.deps.settings;
  }

  slotOf(record: ContainerRecord): Slot {
    return this.deps.slots.slot(record.slotId);
  }

  agentOf(record: ContainerRecord): AgentClient {
    return new AgentClient(this.slotOf(record).agentSocket);
  }

  /** The container assigned to a workspace, if any. */
  async assigned(workspaceId: string): Promise<ContainerRecord | null> {
    const id = await this.deps.state.getAssignment(workspaceId);
    return id ? this.deps.state.getContainer(id) : null;
  }

  /**
   * A container for `workspaceId`: its assigned one when that is alive, else a warm one from
   * the pool, else a new one. The caller holds the workspace's run lease.
   */
  async acquire(tenant: string, workspaceId: string): Promise<AcquiredContainer> {
    const started = this.clock.now();
    const { state, settings } = { state: this.deps.state, settings: this.deps.settings };

    const current = await this.assigned(workspaceId);
    if (current && ['assigned', 'idle', 'paused'].includes(current.state)) {
      if (current.state === 'paused') await this.resume(current);
      const info = await this.deps.runtime.inspect(current.id);
      if (info?.running && !info.paused) {
        return this.ready(current, 'assigned', started);
      }
      this.deps.logger.warn({ containerId: current.id, workspaceId }, 'assigned container is gone; replacing it');
      await this.remove(current.id, 'assigned container not running');
    } else if (current) {
      // `running`, `removing`, `failed` or `creating`: not usable; the caller holds the run
      // lease, so a `running` record is left over from a crashed run.
      await this.remove(current.id, `assigned container in state ${current.state}`);
    }

    const warm = await state.claimWarm(settings.image, workspaceId, tenant, this.clock.now());
    if (warm) {
      const info = await this.deps.runtime.inspect(warm.id);
      if (info?.running) {
        this.deps.slots.writeAssignment(this.slotOf(warm), {
          containerId: warm.id,
          workspaceId,
          tenant,
          assignedAt: this.clock.now(),
        });
        this.egress.get(warm.id)?.setIdentity({ workspaceId, tenant, containerId: warm.id });
        return this.ready(warm, 'warm', started);
      }
      await this.remove(warm.id, 'warm container not running');
    }

    const record = await this.createContainer({ tenant, workspaceId });
    return this.ready(record, 'cold', started);
  }

  private ready(record: ContainerRecord, source: AcquiredContainer['source'], started: number): AcquiredContainer {
    return { record, slot: this.slotOf(record), agent: this.agentOf(record), source, acquireMs: this.clock.now() - started };
  }

  /**
   * Creates, starts and health-checks one container. With `assign` it goes straight to
   * `assigned`; without, it becomes `warm` and joins the pool.
   */
  async createContainer(assign?: { tenant: string; workspaceId: string }): Promise<ContainerRecord> {
    const { runtime, state, slots, gateway, settings, logger } = this.deps;
    const slot = slots.create();
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
        labels: {
          [LABELS.managed]: 'true',
          [LABELS.pool]: assign ? 'direct' : 'warm',
          [LABELS.hostInstance]: settings.hostId,
          [LABELS.imageVersion]: settings.imageVersion,
          [LABELS.slot]: slot.id,
        },
        mounts: { socketDir: slot.socketDir, workspace: slot.workspaceDir, claudeConfig: slot.claudeDir },
        env: settings.agentEnv,
        limits: settings.limits,
        runtime: settings.runtime,
      });
      this.egress.set(id, attachment);
      attachment.setIdentity({ workspaceId: assign?.workspaceId ?? null, tenant: assign?.tenant ?? null, containerId: id });
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
        slots.writeAssignment(slot, { containerId: id, workspaceId: assign.workspaceId, tenant: assign.tenant, assignedAt: now });
      }
      await runtime.start(id);
      await new AgentClient(slot.agentSocket).waitHealthy(settings.startTimeoutMs);
      const next: ContainerState = assign ? 'assigned' : 'warm';
      const record = await state.transitionContainer(id, ['creating'], { state: next }, this.clock.now());
      if (!record) throw new WorkcellError('container_start_failed', `container ${id} changed state while starting`);
      if (assign) await state.setAssignment(assign.workspaceId, id);
      else await state.addWarm(settings.image, id);
      logger.info({ containerId: id, slotId: slot.id, state: next, workspaceId: assign?.workspaceId ?? null }, 'container ready');
      return record;
    } catch (err) {
      logger.error({ containerId: id, slotId: slot.id, err: String(err) }, 'container failed to start');
      if (id) {
        await this.remove(id, 'failed to start').catch(() => undefined);
      } else {
        await attachment.close().catch(() => undefined);
        slots.remove(slot.id);
      }
      if (err instanceof WorkcellError) throw err;
      throw new WorkcellError('container_start_failed', `container failed to start: ${String(err)}`);
    }
  }

  /** Marks the container `running` for `runId`; false when it was not idle or assigned. */
  async beginRun(containerId: string, runId: string): Promise<boolean> {
    const rec = await this.deps.state.transitionContainer(containerId, ['assigned', 'idle'], { state: 'running', runId }, this.clock.now());
    return rec !== null;
  }

  /** Marks the run over: the idle clock starts now. */
  async endRun(containerId: string): Promise<void> {
    const now = this.clock.now();
    await this.deps.state.transitionContainer(containerId, ['running'], { state: 'idle', runId: null, lastRunEndedAt: now }, now);
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

  private async resume(record: ContainerRecord): Promise<void> {
    await this.deps.runtime.unpause(record.id);
    await this.deps.state.transitionContainer(record.id, ['paused'], { state: 'idle' }, this.clock.now());
  }

  /** Stops and removes a container, its egress listener, its slot and its state. */
  async remove(containerId: string, reason: string): Promise<void> {
    const { runtime, state, slots, logger } = this.deps;
    const record = await state.getContainer(containerId);
    if (record) {
      await state.transitionContainer(containerId, ['creating', 'warm', 'assigned', 'running', 'idle', 'paused', 'failed'], { state: 'removing' }, this.clock.now());
    }
    await runtime.remove(containerId);
    await this.egress.get(containerId)?.close().catch(() => undefined);
    this.egress.delete(containerId);
    if (record) {
      slots.remove(record.slotId);
      if (record.workspaceId) await state.clearAssignment(record.workspaceId, containerId);
    }
    await state.deleteContainer(containerId);
    logger.info({ containerId, reason }, 'container removed');
  }

  /** Re-attaches the egress listener of a container this host adopts after a restart. */
  async adopt(record: ContainerRecord): Promise<void> {
    if (this.egress.has(record.id)) return;
    const slot = this.slotOf(record);
    const attachment = await this.deps.gateway.attach(slot.egressSocket, {
      workspaceId: record.workspaceId,
      tenant: record.tenant,
      containerId: record.id,
    });
    this.egress.set(record.id, attachment);
  }

  /** Closes every egress listener this host holds (containers keep running). */
  async close(): Promise<void> {
    await Promise.all([...this.egress.values()].map((a) => a.close().catch(() => undefined)));
    this.egress.clear();
  }
}
