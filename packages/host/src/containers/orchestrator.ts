import { AGENT_READY_ENV, WorkcellError } from '@workcell/protocol';
import type { Logger } from 'pino';
import {
  CONTAINER_STATES,
  type ContainerRecord,
  type ContainerState,
  type StateStore,
} from '../state/state-store.js';
import type { Clock } from '../time/clock.js';
import { AgentClient } from './agent-client.js';
import type { EgressIdentity } from './egress.js';
import type { EgressListeners } from './egress-listeners.js';
import type {
  AcquiredContainer,
  ColdStart,
  RunContainers,
  WorkspaceContainers,
} from './run-containers.js';
import {
  DEFAULT_CPU_SHARES,
  LABELS,
  WARM_CPU_SHARES,
  type ContainerRuntime,
  type ContainerRuntimeName,
} from './runtime.js';
import { poolName } from './scope.js';
import type { Slot, SlotStore } from './slots.js';

/** How long a new container may take to answer its agent's health check. */
export const CONTAINER_START_TIMEOUT_MS = 30_000;

export interface OrchestratorSettings {
  image: string;
  imageVersion: string;
  hostId: string;
  /**
   * The data directory's scope id (`scope.ts`): hosts that share it share one warm pool per
   * image; a host claims only containers of its own scope, which it can reach.
   */
  scopeId: string;
  runtime: ContainerRuntimeName;
  limits: { memoryMb: number; cpus: number; pids: number; nofile: number };
  /** Non-secret environment for every agent (model provider, region). */
  agentEnv: Record<string, string>;
  /**
   * Added for warm pool containers only: what their agent starts Claude Code for before it
   * knows its workspace (`AGENT_READY_ENV.options`). A container created for a run starts it
   * for that run instead (`ColdStart.ready`).
   */
  warmAgentEnv?: Record<string, string>;
  /** Host dir of the Workcell CA's public files, mounted read-only when secrets are on. */
  trustDir?: string;
  /** How long a new container may take to answer on its agent socket. */
  startTimeoutMs: number;
  /** How long an existing container's agent may take to answer `/health` before it counts as dead. */
  probeTimeoutMs?: number;
}

/** States in which a container assigned to a workspace can take its next run. */
export const REUSABLE_STATES: readonly ContainerState[] = ['assigned', 'idle', 'paused'];
/** Every state but `removing`: what `remove` may move to `removing`. */
const REMOVABLE_STATES: readonly ContainerState[] = CONTAINER_STATES.filter(
  (s) => s !== 'removing',
);
/** Warm claims tried (dropping containers that do not answer) before a cold start. */
const MAX_WARM_CLAIMS = 3;
/** States in which a container's agent may hold a ready process. */
const READY_STATES = new Set(['warm', 'assigned', 'idle']);

/**
 * Container lifecycle: creates hardened containers, hands one to a workspace (reusing its
 * assigned container, else claiming a warm one, else a cold start), records every transition
 * in the StateStore and on the slot's assignment record, and removes containers with their
 * host-side slot. Imports the `ContainerRuntime` port, never the engine's client.
 *
 * Hosts that share a StateStore and a data directory share containers: the host that acquires a
 * container for a run holds its egress listener (`EgressListeners`, taking it over from the
 * previous holder) and records itself as the holder in the assignment record.
 */
export class Orchestrator implements RunContainers, WorkspaceContainers {
  constructor(
    private readonly deps: {
      runtime: ContainerRuntime;
      state: StateStore;
      slots: SlotStore;
      listeners: EgressListeners;
      settings: OrchestratorSettings;
      logger: Logger;
      clock: Clock;
      /** Told when a container's slot is gone, so per-slot caches (the sync's) can drop it. */
      onSlotRemoved?: (slotId: string) => void;
      /** Told after every warm claim attempt, taken or not (the warm pool refills in the background). */
      onWarmClaim?: () => void;
      /**
       * Told of a workspace's container that lives on another host (another engine and data
       * directory) when this host takes the workspace over: its owner removes it.
       */
      onForeignContainer?: (record: ContainerRecord) => Promise<void>;
    },
  ) {}

  /** The warm pool this host claims from and fills: its image, among its own scope's containers. */
  get pool(): string {
    return poolName(this.deps.settings.image, this.deps.settings.scopeId);
  }

  /**
   * Can this host reach the container of `containerId`: its slot is in this host's data
   * directory, or it has no record (it is gone, for any host).
   */
  async reaches(containerId: string): Promise<boolean> {
    const record = await this.deps.state.getContainer(containerId);
    return record === null || this.isLocal(record);
  }

  /** Can this host reach the container (its slot is in this host's data directory)? */
  isLocal(record: ContainerRecord): boolean {
    return this.deps.slots.exists(record.slotId);
  }

  private get clock(): Clock {
    return this.deps.clock;
  }

  private slotOf(record: ContainerRecord): Slot {
    return this.deps.slots.slot(record.slotId);
  }

  private agentOf(record: ContainerRecord): AgentClient {
    return new AgentClient(this.slotOf(record).agentSocket, this.clock);
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
  async acquire(tenant: string, workspaceId: string, cold?: ColdStart): Promise<AcquiredContainer> {
    const started = this.clock.now();
    const { state, settings, slots, listeners, logger } = this.deps;
    const identity = (containerId: string): EgressIdentity => ({
      workspaceId,
      tenant,
      containerId,
    });

    let current = await this.assigned(workspaceId);
    if (current && !this.isLocal(current)) {
      // Another host's container: the workspace moves here (the caller holds its run lease, so
      // nothing runs there), and the owner is told to remove the one it has.
      await state.clearAssignment(workspaceId, current.id);
      await this.deps.onForeignContainer?.(current);
      logger.info(
        { containerId: current.id, workspaceId, owner: current.hostId },
        'workspace taken over from another host',
      );
      current = null;
    }
    if (current && REUSABLE_STATES.includes(current.state)) {
      if (current.state === 'paused') {
        try {
          await this.resume(current);
        } catch (err) {
          // The health probe below decides: a container that stays frozen is replaced.
          logger.warn({ containerId: current.id, err }, 'resuming a paused container failed');
        }
      }
      if (await this.responds(current)) {
        const slot = this.slotOf(current);
        if (
          await listeners.take(current, identity(current.id), slots.readAssignment(slot)?.hostId)
        ) {
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
        const warm = await state.claimWarm(this.pool, workspaceId, tenant, this.clock.now());
        if (!warm) break;
        if (await this.responds(warm)) {
          // Its work starts now: the weight of a container doing a workspace's work, not
          // waited for (the engine's update is not on the run's path).
          this.deps.runtime
            .setCpuShares(warm.id, DEFAULT_CPU_SHARES)
            .catch((err: unknown) =>
              logger.warn(
                { containerId: warm.id, err },
                "cannot raise a claimed container's CPU weight",
              ),
            );
          await listeners.take(warm, identity(warm.id), undefined);
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
      this.deps.onWarmClaim?.();
    }

    const record = await this.createContainer({ tenant, workspaceId, ...(cold ? { cold } : {}) });
    return { ...this.ready(record, 'cold', started), syncedIn: cold !== undefined };
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
   * How many of `records` (this host's containers) have a Claude Code process started and
   * waiting for their next run, by asking each live agent's `/health` at once (`timeoutMs`
   * each); an agent that does not answer counts as not ready.
   */
  async readyAgents(records: readonly ContainerRecord[], timeoutMs = 500): Promise<number> {
    const live = records.filter((r) => READY_STATES.has(r.state));
    const answers = await Promise.all(
      live.map((r) =>
        this.agentOf(r)
          .health(timeoutMs)
          .then((h) => h.ready === true)
          .catch(() => false),
      ),
    );
    return answers.filter(Boolean).length;
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
   * Creates, starts and health-checks one container. With `assign` it goes straight to
   * `assigned`; without, it becomes `warm` and joins the pool.
   */
  async createContainer(assign?: {
    tenant: string;
    workspaceId: string;
    cold?: ColdStart;
  }): Promise<ContainerRecord> {
    const { runtime, state, slots, listeners, settings, logger } = this.deps;
    /** When each step of the start ended, for the debug line of its durations. */
    const marks = { begin: this.clock.now(), slot: 0, create: 0, start: 0, health: 0 };
    const slot = await slots.create();
    marks.slot = this.clock.now();
    const attachment = await listeners.open(slot.id, {
      workspaceId: assign?.workspaceId ?? null,
      tenant: assign?.tenant ?? null,
      containerId: null,
    });
    let id: string | null = null;
    const cold = assign?.cold;
    // The sync in writes the slot while the engine creates the container; both end before it starts.
    const syncIn = cold ? cold.syncIn(slot) : null;
    syncIn?.catch(() => undefined);
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
        env: assign
          ? {
              ...settings.agentEnv,
              ...(cold?.ready ? { [AGENT_READY_ENV.firstRun]: JSON.stringify(cold.ready) } : {}),
            }
          : { ...settings.agentEnv, ...settings.warmAgentEnv },
        limits: settings.limits,
        runtime: settings.runtime,
        ...(assign ? {} : { cpuShares: WARM_CPU_SHARES }),
      });
      marks.create = this.clock.now();
      listeners.bind(id, slot.id, attachment);
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
      await syncIn;
      marks.start = this.clock.now();
      await runtime.start(id);
      marks.health = this.clock.now();
      await new AgentClient(slot.agentSocket, this.clock).waitHealthy(settings.startTimeoutMs);
      logger.debug(
        {
          containerId: id,
          slotMs: marks.slot - marks.begin,
          createMs: marks.create - marks.slot,
          recordMs: marks.start - marks.create,
          startMs: marks.health - marks.start,
          healthMs: this.clock.now() - marks.health,
        },
        'container start timings',
      );
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
      else await state.addWarm(this.pool, id);
      logger.info(
        { containerId: id, slotId: slot.id, state: next, workspaceId: assign?.workspaceId ?? null },
        'container ready',
      );
      return record;
    } catch (err) {
      logger.error({ containerId: id, slotId: slot.id, err }, 'container failed to start');
      await syncIn?.catch(() => undefined);
      await this.cleanUpFailedStart(id, slot.id, attachment);
      if (err instanceof WorkcellError) throw err;
      throw new WorkcellError(
        'container_start_failed',
        `container failed to start: ${String(err)}`,
      );
    }
  }

  /** Removes what a failed start left; a failure here is logged and left to GC (the start's error is what the caller needs). */
  private async cleanUpFailedStart(
    id: string | null,
    slotId: string,
    attachment: { close(): Promise<void> },
  ): Promise<void> {
    try {
      if (id) {
        await this.remove(id, 'failed to start', slotId);
      } else {
        await attachment.close();
        await this.deps.slots.remove(slotId);
      }
    } catch (err) {
      this.deps.logger.warn(
        { containerId: id, slotId, err },
        'cleaning up a failed start failed; GC removes what is left',
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
      this.deps.logger.warn({ containerId: record.id, err }, 'assignment record not updated');
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
    const { runtime, state, slots, listeners, logger } = this.deps;
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
    const listenedOn = await listeners.drop(containerId);
    const slot = record?.slotId ?? slotId ?? listenedOn;
    if (slot) {
      await slots.remove(slot);
      await listeners.slotRemoved(slot);
      this.deps.onSlotRemoved?.(slot);
    }
    if (record?.workspaceId) await state.clearAssignment(record.workspaceId, containerId);
    if (record?.state === 'warm' || record?.workspaceId === null) {
      await state.removeWarm(this.pool, containerId);
    }
    await state.deleteContainer(containerId);
    logger.info({ containerId, reason }, 'container removed');
  }

  /**
   * The container that runs `runId`, for a host carrying the run on after the host running it
   * went away: its record still says it runs that run, this host reaches its slot, and the
   * engine still has it running. Its egress listener moves to this host. Null when any of that
   * is not so (the container is gone).
   */
  async reattach(
    tenant: string,
    containerId: string,
    runId: string,
  ): Promise<AcquiredContainer | null> {
    const started = this.clock.now();
    const { state, runtime, slots, listeners, settings } = this.deps;
    const record = await state.getContainer(containerId);
    if (!record || record.state !== 'running' || record.runId !== runId) return null;
    if (!this.isLocal(record)) {
      throw new WorkcellError(
        'host_lost',
        `the container runs on host ${record.hostId}, which this host cannot reach`,
      );
    }
    const info = await runtime.inspect(containerId);
    if (!info?.running) return null;
    const slot = this.slotOf(record);
    const identity: EgressIdentity = {
      workspaceId: record.workspaceId ?? '',
      tenant,
      containerId,
    };
    if (await listeners.take(record, identity, slots.readAssignment(slot)?.hostId)) {
      slots.updateAssignment(slot, { hostId: settings.hostId });
    }
    return this.ready(record, 'assigned', started);
  }

  /**
   * Re-attaches the egress listener of a container this host adopts after a restart, and
   * records this host as its holder.
   */
  async adopt(record: ContainerRecord): Promise<void> {
    if (this.deps.listeners.holds(record.id)) return;
    await this.deps.listeners.adopt(record);
    if (record.workspaceId)
      this.deps.slots.updateAssignment(this.slotOf(record), { hostId: this.deps.settings.hostId });
  }
}
