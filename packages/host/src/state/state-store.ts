import type {
  AgentAnswer,
  ClientTool,
  ContainerState,
  MessageContent,
  RunEventName,
  RunOptions,
  TicketPurpose,
} from '@workcell/protocol';

/** The container lifecycle (creating -> warm -> assigned -> running -> idle ...) is part of the API. */
export { CONTAINER_STATES, type ContainerState } from '@workcell/protocol';

/** What the host knows about one container it manages. Times are epoch milliseconds. */
export interface ContainerRecord {
  /** The engine's container id (Docker id); `container.id` in the API. */
  id: string;
  /** Host-side directory name for the container's mounts and sockets. */
  slotId: string;
  /** The host instance that created it. */
  hostId: string;
  image: string;
  state: ContainerState;
  workspaceId: string | null;
  tenant: string | null;
  createdAt: number;
  stateChangedAt: number;
  /** When the last run on it ended; the idle clock starts here. */
  lastRunEndedAt: number | null;
  /** The run in progress, when state is `running`. */
  runId: string | null;
}

/** One buffered event of a run; `seq` starts at 1 and has no gaps. */
export interface BufferedEvent {
  seq: number;
  /** The event, serialised (the SSE `event:` name and `data:` JSON). */
  event: RunEventName;
  data: string;
}

/**
 * One webhook delivery in the outbox: a signed POST of `body` to one endpoint, tried until it
 * succeeds or runs out of attempts. The endpoint's URL and secret are looked up at each attempt,
 * so no secret is kept here.
 */
export interface OutboxEntry {
  /** The delivery id (`msg_...`): `webhook-id` on every attempt, for receivers to dedupe. */
  id: string;
  /** The tenant whose event it is. */
  tenant: string;
  /** The endpoint: a tenant's registered id, or `operator` for the configured URL. */
  endpointId: string;
  /** The JSON payload, signed and sent as is. */
  body: string;
  /** Attempts made so far. */
  attempts: number;
  /** When it was enqueued, epoch ms. */
  createdAt: number;
}

/**
 * What a browser ticket grants, stored under the ticket's digest (never the ticket itself):
 * one tenant, one workspace, one purpose, until `expiresAt`.
 */
export interface TicketGrant {
  tenant: string;
  workspaceId: string;
  purpose: TicketPurpose;
  /** Epoch ms; the grant is refused from then on. */
  expiresAt: number;
}

/**
 * A run in progress, recorded while it runs so that a host can carry it on when the host
 * running it is gone (a deploy or a crash): the run's container keeps running it, and the host
 * that takes the run over re-attaches to the container's agent.
 */
export interface RunAttachment {
  runId: string;
  tenant: string;
  workspaceId: string;
  conversationId: string;
  /**
   * The run's container; empty while the run is accepted but has none yet (a host that finds
   * it so with its attach lease free starts the run again from `input`, or closes it
   * `host_lost` without one: its host stopped before it began).
   */
  containerId: string;
  /**
   * While the run has no container: what it hands the agent (the message's content and its
   * resolved agent settings), absent when it is over `MAX_RECORDED_INPUT_BYTES`.
   */
  input?: { prompt: MessageContent; options?: RunOptions };
  /** When the run started, epoch ms: its timeout counts from here on every host. */
  startedAt: number;
  /**
   * The run's control token: the agent takes answers to the run's approvals and client tool
   * calls only with it, whichever host carries the run on.
   */
  controlToken?: string;
  /** The client tools the run offers (their schemas check `updatedInput`). */
  clientTools?: ClientTool[];
}

/**
 * An approval (a tool call waiting for a decision) or a client tool call (waiting for its
 * result), bound to its tenant, conversation and run. The record is written once; its
 * settlement is set once (`settleApproval`). Times are epoch milliseconds.
 */
export interface ApprovalRecord {
  id: string;
  kind: 'approval' | 'tool';
  tenant: string;
  workspaceId: string;
  conversationId: string;
  runId: string;
  /** The host that recorded the item (answers go to whichever host holds the run now). */
  hostId: string;
  toolUseId: string | null;
  /** The tool's name as the model called it (a client tool's configured name for `tool`). */
  toolName: string;
  input: Record<string, unknown>;
  /** The tool's input schema when the host knows it (a client tool), for `updatedInput`. */
  inputSchema: Record<string, unknown> | null;
  createdAt: number;
}

/** How an item stopped waiting. */
export interface ApprovalSettlement {
  status: 'allowed' | 'denied';
  reason: 'client' | 'timeout' | 'interrupt';
  message: string | null;
  decidedAt: number;
  /**
   * What the agent is to be told, kept with the settlement: a host that carries the run on
   * delivers it when the host that held the run went away before it could.
   */
  answer?: AgentAnswer;
}

/** A record with its settlement (null while it waits). */
export interface StoredApproval {
  record: ApprovalRecord;
  settlement: ApprovalSettlement | null;
}

/**
 * Shared, non-durable state: containers, the warm pool, workspace assignments, leases and the
 * events of live runs. Implementations: Redis (several hosts share it) and in-process memory
 * (the embedded default). Losing it loses no file and no finished conversation: containers are
 * rebuilt from Docker labels and the host's assignment records, durable data lives in the
 * ObjectStore. Every compare-and-set is atomic (a Lua script on Redis).
 */
export interface StateStore {
  readonly kind: 'memory' | 'redis';

  /** Answers whether the store is reachable, throwing with a reason when it is not. */
  ping(): Promise<void>;
  close(): Promise<void>;

  /** Writes a container record whole (creation, reconcile). */
  putContainer(record: ContainerRecord): Promise<void>;
  getContainer(id: string): Promise<ContainerRecord | null>;
  listContainers(): Promise<ContainerRecord[]>;
  /**
   * Compare-and-set: applies `patch` (and `stateChangedAt = now` when the state changes) only
   * if the record exists and its state is one of `from`. Answers the new record, or null when
   * the guard failed. GC's delete-if-still-idle is `transitionContainer(id, ['idle'], {state:
   * 'removing'})`.
   */
  transitionContainer(
    id: string,
    from: readonly ContainerState[],
    patch: Partial<Omit<ContainerRecord, 'id'>>,
    now: number,
  ): Promise<ContainerRecord | null>;
  /**
   * Removes the record, its entry in the warm pool named by its `image`, and the workspace
   * assignment that names it; without a record there is nothing else to remove. A pool named
   * otherwise (the orchestrator's per-scope pools) is the caller's to clear; a claim skips ids
   * whose record is gone either way.
   */
  deleteContainer(id: string): Promise<void>;

  /** Puts a `warm` container into the pool of `image` (once; adding it again changes nothing). */
  addWarm(image: string, id: string): Promise<void>;
  /**
   * Atomically takes one warm container of `image` out of the pool, marks it `assigned` to
   * `workspaceId` and records the assignment. Two callers never get the same container. Ids
   * whose record is gone or no longer `warm` are dropped from the pool on the way; null when
   * no warm container is left.
   */
  claimWarm(
    image: string,
    workspaceId: string,
    tenant: string,
    now: number,
  ): Promise<ContainerRecord | null>;
  /** Ids in the warm pool of `image`. */
  listWarm(image: string): Promise<string[]>;
  removeWarm(image: string, id: string): Promise<boolean>;

  /** The container assigned to a workspace, if any. */
  getAssignment(workspaceId: string): Promise<string | null>;
  /** Records `containerId` as the workspace's container (cold start, reconcile). */
  setAssignment(workspaceId: string, containerId: string): Promise<void>;
  /** Clears the assignment only if it still names `containerId`. */
  clearAssignment(workspaceId: string, containerId: string): Promise<boolean>;

  /**
   * Leases: a named claim that expires unless renewed, so a crashed holder never strands it.
   * `acquireLease` succeeds when the lease is free, expired or already held by `holder`.
   */
  acquireLease(name: string, holder: string, ttlMs: number): Promise<boolean>;
  /** Extends the lease only if `holder` still holds it. */
  renewLease(name: string, holder: string, ttlMs: number): Promise<boolean>;
  /** Releases the lease only if `holder` still holds it. */
  releaseLease(name: string, holder: string): Promise<boolean>;
  getLeaseHolder(name: string): Promise<string | null>;

  /** Appends the next event of a run (seq must be last seq + 1, else it throws). */
  appendRunEvent(runId: string, event: BufferedEvent): Promise<void>;
  /** Events with seq > `afterSeq`, in order, at most `limit`. */
  readRunEvents(runId: string, afterSeq: number, limit?: number): Promise<BufferedEvent[]>;
  /** The seq of the run buffer's last event; 0 when it holds none (or has expired). */
  lastRunEventSeq(runId: string): Promise<number>;
  /** Drops a run's buffer after `ttlMs` (once it is safely in the object store). */
  expireRunEvents(runId: string, ttlMs: number): Promise<void>;

  /** Fixed-window counter for rate limits: increments `key` and answers the count in window. */
  hit(key: string, windowMs: number): Promise<{ count: number; resetInMs: number }>;

  /**
   * The webhook outbox. `enqueueDelivery` adds an entry due at `dueAt` (once: an id already
   * there is left as it is).
   */
  enqueueDelivery(entry: OutboxEntry, dueAt: number): Promise<void>;
  /**
   * Takes up to `limit` entries due at `now`, oldest due first, under the claim `claim`: each
   * stays hidden from other claimers until `now + leaseMs`, after which it is due again (a
   * claimer that died loses nothing). Two claimers never hold one entry at the same time.
   */
  claimDeliveries(
    now: number,
    leaseMs: number,
    limit: number,
    claim: string,
  ): Promise<OutboxEntry[]>;
  /** Removes the entry (delivered, or given up) only if `claim` still holds it. */
  completeDelivery(id: string, claim: string): Promise<boolean>;
  /**
   * Puts the entry back as `entry` (its attempts counted), due at `dueAt`, only if `claim`
   * still holds it.
   */
  retryDelivery(entry: OutboxEntry, claim: string, dueAt: number): Promise<boolean>;
  /** Entries in the outbox, claimed or not. */
  countDeliveries(): Promise<number>;

  /**
   * Browser tickets. `putTicket` stores a grant under `digest` (the ticket's SHA-256, never the
   * ticket) for `ttlMs`, after which it is gone.
   */
  putTicket(digest: string, grant: TicketGrant, ttlMs: number): Promise<void>;
  /**
   * Takes the grant under `digest`: reads and removes it in one atomic step, so of two callers
   * (on any hosts) at most one gets it. Null when there is none: never stored, past its TTL, or
   * already taken.
   */
  takeTicket(digest: string): Promise<TicketGrant | null>;

  /** Records a run in progress (written whole; again for the same run replaces it). */
  putRunAttachment(attachment: RunAttachment): Promise<void>;
  /** Every run recorded in progress. */
  listRunAttachments(): Promise<RunAttachment[]>;
  /** Forgets a run once it has ended. */
  deleteRunAttachment(runId: string): Promise<void>;

  /**
   * Approvals and client tool calls, per conversation. `putApproval` writes a new record
   * (pending) and keeps the conversation's items for `ttlMs` from now.
   */
  putApproval(record: ApprovalRecord, ttlMs: number): Promise<void>;
  /** One item of a conversation, with its settlement; null when there is none. */
  getApproval(conversationId: string, id: string): Promise<StoredApproval | null>;
  /** Every item of a conversation, in no particular order. */
  listApprovals(conversationId: string): Promise<StoredApproval[]>;
  /**
   * Settles an item once, atomically across hosts: `settled` the first time, `already` when it
   * was settled before (the earlier settlement stands), `missing` when there is no such item.
   */
  settleApproval(
    conversationId: string,
    id: string,
    settlement: ApprovalSettlement,
  ): Promise<'settled' | 'already' | 'missing'>;
}
