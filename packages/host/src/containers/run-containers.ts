import type {
  AgentAnswer,
  AgentEvent,
  AgentHealth,
  ReadyBasis,
  RunRequest,
} from '@workcell/protocol';
import type { ContainerRecord } from '../state/state-store.js';
import type { Slot } from './slots.js';

/** The connection to one container's agent (`AgentClient` over its Unix socket). */
export interface AgentConnection {
  /** The agent's health; throws when it does not answer in `timeoutMs`. */
  health(timeoutMs?: number): Promise<AgentHealth>;
  /** Starts a run and yields its events; `signal` aborting cuts the connection. */
  run(request: RunRequest, signal?: AbortSignal): AsyncIterable<AgentEvent>;
  /** Asks the agent to interrupt `runId`; false when it has no such run. */
  interrupt(runId: string): Promise<boolean>;
  /** Ends the SDK turn of `runId` outright (an interrupt not honoured in time); false when it has no such run. */
  abort(runId: string): Promise<boolean>;
  /**
   * The events of `runId` after the agent's event `after`, then live until the run ends: how a
   * host carries on a run whose connection dropped. Throws `container_lost` when the agent has
   * no such run (the container was replaced), `events_lost` when it no longer keeps them.
   */
  follow(runId: string, after: number, signal?: AbortSignal): AsyncIterable<AgentEvent>;
  /** Delivers an answer to a waiting approval or client tool call (`approvals/`). */
  answer?(
    runId: string,
    itemId: string,
    controlToken: string,
    answer: AgentAnswer,
  ): Promise<'accepted' | 'answered' | 'unknown'>;
}

/** A container ready to run for one workspace. */
export interface AcquiredContainer {
  record: ContainerRecord;
  slot: Slot;
  agent: AgentConnection;
  /** How it was obtained: already assigned, claimed from the warm pool, or created cold. */
  source: 'assigned' | 'warm' | 'cold';
  acquireMs: number;
  /** The workspace's files were synced in before it started (`ColdStart.syncIn`). */
  syncedIn?: boolean;
}

/**
 * What a container created for a workspace does before it starts, so the steps that do not
 * depend on each other overlap: the sync in runs while the engine creates it, and its agent
 * starts Claude Code for the run as it boots (`ready`), the files already in place.
 */
export interface ColdStart {
  /** Syncs the workspace's files into the new container's slot. */
  syncIn(slot: Slot): Promise<void>;
  /** What of the run the agent's first ready process is started for. */
  ready?: ReadyBasis;
}

/** What a run needs from the containers: one to run in, and a way to hand it back. */
export interface RunContainers {
  /**
   * A container for the workspace (the caller holds the workspace's run lease); one created
   * for it goes through `cold` first (then `syncedIn` is true).
   */
  acquire(tenant: string, workspaceId: string, cold?: ColdStart): Promise<AcquiredContainer>;
  /**
   * The container still running `runId` for a host that carries the run on; null when it is
   * gone or this host cannot reach it.
   */
  reattach(tenant: string, containerId: string, runId: string): Promise<AcquiredContainer | null>;
  /** Marks the container `running` for `runId`; false when it was not idle or assigned. */
  beginRun(containerId: string, runId: string): Promise<boolean>;
  /** Marks the run over: the container is idle from now. */
  endRun(containerId: string): Promise<void>;
  /** Stops and removes the container with its slot and state. */
  remove(containerId: string, reason: string): Promise<void>;
  /** Records the container as failed (GC removes it). */
  markFailed(containerId: string, reason: string): Promise<void>;
}

/** What the API and the files service need from the containers of a workspace. */
export interface WorkspaceContainers {
  /** The container assigned to a workspace, if any. */
  assigned(workspaceId: string): Promise<ContainerRecord | null>;
  /** Stops and removes the container with its slot and state. */
  remove(containerId: string, reason: string): Promise<void>;
}

/**
 * Removes a workspace's container wherever it lives: at once when this host reaches it, else by
 * the host that owns it (`control/cross-host.ts`).
 */
export interface ContainerRemover {
  removeContainer(record: ContainerRecord, reason: string): Promise<void>;
}
