import { WorkcellError } from '@workcell/protocol';
import { byCreation, type ContainerPatch } from './record-codec.js';
import type {
  BufferedEvent,
  ContainerRecord,
  ContainerState,
  OutboxEntry,
  StateStore,
  RunAttachment,
  TicketGrant,
  ApprovalRecord,
  ApprovalSettlement,
  StoredApproval,
} from './state-store.js';

export interface MemoryStateStoreOptions {
  /** The clock for lease, event-buffer and rate-limit expiry; epoch ms. */
  now?: () => number;
  /** How often, in clock ms, expired leases, buffers and windows are swept out. */
  sweepIntervalMs?: number;
}

interface Lease {
  holder: string;
  expiresAt: number;
}

interface RunBuffer {
  events: BufferedEvent[];
  expiresAt: number | null;
}

interface Window {
  count: number;
  resetAt: number;
}

interface Pending {
  entry: OutboxEntry;
  dueAt: number;
  claim: string | null;
}

/**
 * The embedded StateStore: one process, no Redis. It keeps the Redis store's semantics,
 * expiry included, against an injected clock. Each method finishes its work before its first
 * await point, so every compare-and-set is atomic on the one event loop. Callers get copies,
 * never the objects held here.
 */
export class MemoryStateStore implements StateStore {
  readonly kind = 'memory' as const;

  private readonly now: () => number;
  private readonly sweepIntervalMs: number;
  private nextSweepAt: number;
  private readonly containers = new Map<string, ContainerRecord>();
  /** Per image, ids in the order they joined (a Set keeps insertion order). */
  private readonly warm = new Map<string, Set<string>>();
  private readonly assignments = new Map<string, string>();
  private readonly leases = new Map<string, Lease>();
  private readonly runs = new Map<string, RunBuffer>();
  private readonly windows = new Map<string, Window>();
  private readonly outbox = new Map<string, Pending>();
  /** Ticket digest -> grant and when the entry lapses (its TTL, as Redis keeps it). */
  private readonly tickets = new Map<string, { grant: TicketGrant; lapsesAt: number }>();
  private readonly attachments = new Map<string, RunAttachment>();
  /** Conversation id -> its items and when they lapse (the hash's TTL, as Redis keeps it). */
  private readonly approvals = new Map<
    string,
    { items: Map<string, StoredApproval>; lapsesAt: number }
  >();

  constructor(options: MemoryStateStoreOptions = {}) {
    this.now = options.now ?? Date.now;
    this.sweepIntervalMs = options.sweepIntervalMs ?? 60_000;
    this.nextSweepAt = this.now() + this.sweepIntervalMs;
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {}

  async putContainer(record: ContainerRecord): Promise<void> {
    this.containers.set(record.id, { ...record });
  }

  async getContainer(id: string): Promise<ContainerRecord | null> {
    const record = this.containers.get(id);
    return record ? { ...record } : null;
  }

  async listContainers(): Promise<ContainerRecord[]> {
    return [...this.containers.values()].map((r) => ({ ...r })).sort(byCreation);
  }

  async transitionContainer(
    id: string,
    from: readonly ContainerState[],
    patch: ContainerPatch,
    now: number,
  ): Promise<ContainerRecord | null> {
    const record = this.containers.get(id);
    if (!record || !from.includes(record.state)) return null;
    const next: ContainerRecord = { ...record, ...definedFields(patch), id };
    if (next.state !== record.state) next.stateChangedAt = now;
    this.containers.set(id, next);
    return { ...next };
  }

  async deleteContainer(id: string): Promise<void> {
    const record = this.containers.get(id);
    if (!record) return;
    this.warm.get(record.image)?.delete(id);
    if (record.workspaceId !== null && this.assignments.get(record.workspaceId) === id) {
      this.assignments.delete(record.workspaceId);
    }
    this.containers.delete(id);
  }

  async addWarm(image: string, id: string): Promise<void> {
    let pool = this.warm.get(image);
    if (!pool) this.warm.set(image, (pool = new Set()));
    pool.add(id);
  }

  async claimWarm(
    image: string,
    workspaceId: string,
    tenant: string,
    now: number,
  ): Promise<ContainerRecord | null> {
    const pool = this.warm.get(image);
    if (!pool) return null;
    for (const id of pool) {
      pool.delete(id);
      const record = this.containers.get(id);
      if (record?.state !== 'warm') continue;
      const claimed: ContainerRecord = {
        ...record,
        state: 'assigned',
        workspaceId,
        tenant,
        stateChangedAt: now,
      };
      this.containers.set(id, claimed);
      this.assignments.set(workspaceId, id);
      return { ...claimed };
    }
    return null;
  }

  async listWarm(image: string): Promise<string[]> {
    return [...(this.warm.get(image) ?? [])];
  }

  async removeWarm(image: string, id: string): Promise<boolean> {
    return this.warm.get(image)?.delete(id) ?? false;
  }

  async getAssignment(workspaceId: string): Promise<string | null> {
    return this.assignments.get(workspaceId) ?? null;
  }

  async setAssignment(workspaceId: string, containerId: string): Promise<void> {
    this.assignments.set(workspaceId, containerId);
  }

  async clearAssignment(workspaceId: string, containerId: string): Promise<boolean> {
    if (this.assignments.get(workspaceId) !== containerId) return false;
    return this.assignments.delete(workspaceId);
  }

  async acquireLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    const current = this.liveLease(name);
    if (current && current.holder !== holder) return false;
    this.leases.set(name, { holder, expiresAt: this.now() + ttlMs });
    return true;
  }

  async renewLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    const current = this.liveLease(name);
    if (current?.holder !== holder) return false;
    current.expiresAt = this.now() + ttlMs;
    return true;
  }

  async releaseLease(name: string, holder: string): Promise<boolean> {
    if (this.liveLease(name)?.holder !== holder) return false;
    return this.leases.delete(name);
  }

  async getLeaseHolder(name: string): Promise<string | null> {
    return this.liveLease(name)?.holder ?? null;
  }

  async appendRunEvent(runId: string, event: BufferedEvent): Promise<void> {
    const buffer = this.liveBuffer(runId);
    const last = buffer?.events.length ?? 0;
    if (event.seq !== last + 1) {
      throw new WorkcellError(
        'conflict',
        `run ${runId}: event seq ${event.seq} does not follow ${last}`,
        {
          runId,
          seq: event.seq,
          lastSeq: last,
        },
      );
    }
    const copy = { seq: event.seq, event: event.event, data: event.data };
    if (buffer) buffer.events.push(copy);
    else this.runs.set(runId, { events: [copy], expiresAt: null });
  }

  async readRunEvents(runId: string, afterSeq: number, limit?: number): Promise<BufferedEvent[]> {
    const events = this.liveBuffer(runId)?.events ?? [];
    const start = Math.max(0, Math.floor(afterSeq));
    const end = limit === undefined ? undefined : start + Math.max(0, limit);
    return events.slice(start, end).map((e) => ({ ...e }));
  }

  async lastRunEventSeq(runId: string): Promise<number> {
    return this.liveBuffer(runId)?.events.at(-1)?.seq ?? 0;
  }

  async expireRunEvents(runId: string, ttlMs: number): Promise<void> {
    const buffer = this.liveBuffer(runId);
    if (buffer) buffer.expiresAt = this.now() + ttlMs;
  }

  async hit(key: string, windowMs: number): Promise<{ count: number; resetInMs: number }> {
    this.sweepIfDue();
    const now = this.now();
    let window = this.windows.get(key);
    if (!window || now >= window.resetAt) {
      window = { count: 0, resetAt: now + windowMs };
      this.windows.set(key, window);
    }
    window.count += 1;
    return { count: window.count, resetInMs: window.resetAt - now };
  }

  async enqueueDelivery(entry: OutboxEntry, dueAt: number): Promise<void> {
    if (this.outbox.has(entry.id)) return;
    this.outbox.set(entry.id, { entry: { ...entry }, dueAt, claim: null });
  }

  async claimDeliveries(
    now: number,
    leaseMs: number,
    limit: number,
    claim: string,
  ): Promise<OutboxEntry[]> {
    const due = [...this.outbox.values()]
      .filter((p) => p.dueAt <= now)
      .sort((a, b) => a.dueAt - b.dueAt)
      .slice(0, Math.max(0, limit));
    for (const p of due) {
      p.dueAt = now + leaseMs;
      p.claim = claim;
    }
    return due.map((p) => ({ ...p.entry }));
  }

  async completeDelivery(id: string, claim: string): Promise<boolean> {
    const p = this.outbox.get(id);
    if (!p || p.claim !== claim) return false;
    this.outbox.delete(id);
    return true;
  }

  async retryDelivery(entry: OutboxEntry, claim: string, dueAt: number): Promise<boolean> {
    const p = this.outbox.get(entry.id);
    if (!p || p.claim !== claim) return false;
    this.outbox.set(entry.id, { entry: { ...entry }, dueAt, claim: null });
    return true;
  }

  async countDeliveries(): Promise<number> {
    return this.outbox.size;
  }

  async putTicket(digest: string, grant: TicketGrant, ttlMs: number): Promise<void> {
    this.sweepIfDue();
    this.tickets.set(digest, { grant: { ...grant }, lapsesAt: this.now() + ttlMs });
  }

  async putRunAttachment(attachment: RunAttachment): Promise<void> {
    this.attachments.set(attachment.runId, { ...attachment });
  }

  async listRunAttachments(): Promise<RunAttachment[]> {
    return [...this.attachments.values()].map((a) => ({ ...a }));
  }

  async deleteRunAttachment(runId: string): Promise<void> {
    this.attachments.delete(runId);
  }

  async takeTicket(digest: string): Promise<TicketGrant | null> {
    const entry = this.tickets.get(digest);
    if (!entry) return null;
    this.tickets.delete(digest);
    return entry.lapsesAt > this.now() ? { ...entry.grant } : null;
  }

  async putApproval(record: ApprovalRecord, ttlMs: number): Promise<void> {
    const lapsesAt = this.now() + ttlMs;
    const items = this.liveApprovals(record.conversationId) ?? new Map<string, StoredApproval>();
    items.set(record.id, { record: structuredClone(record), settlement: null });
    this.approvals.set(record.conversationId, { items, lapsesAt });
  }

  async getApproval(conversationId: string, id: string): Promise<StoredApproval | null> {
    const item = this.liveApprovals(conversationId)?.get(id);
    return item ? structuredClone(item) : null;
  }

  async listApprovals(conversationId: string): Promise<StoredApproval[]> {
    return [...(this.liveApprovals(conversationId)?.values() ?? [])].map((i) => structuredClone(i));
  }

  async settleApproval(
    conversationId: string,
    id: string,
    settlement: ApprovalSettlement,
  ): Promise<'settled' | 'already' | 'missing'> {
    const item = this.liveApprovals(conversationId)?.get(id);
    if (!item) return 'missing';
    if (item.settlement) return 'already';
    item.settlement = { ...settlement };
    return 'settled';
  }

  private liveApprovals(conversationId: string): Map<string, StoredApproval> | undefined {
    const entry = this.approvals.get(conversationId);
    if (entry && entry.lapsesAt <= this.now()) {
      this.approvals.delete(conversationId);
      return undefined;
    }
    return entry?.items;
  }

  private liveLease(name: string): Lease | undefined {
    this.sweepIfDue();
    const lease = this.leases.get(name);
    if (lease && lease.expiresAt <= this.now()) {
      this.leases.delete(name);
      return undefined;
    }
    return lease;
  }

  private liveBuffer(runId: string): RunBuffer | undefined {
    this.sweepIfDue();
    const buffer = this.runs.get(runId);
    if (buffer?.expiresAt != null && buffer.expiresAt <= this.now()) {
      this.runs.delete(runId);
      return undefined;
    }
    return buffer;
  }

  /** Drops expired entries nobody asks for again, so they do not pile up. */
  private sweepIfDue(): void {
    const now = this.now();
    if (now < this.nextSweepAt) return;
    this.nextSweepAt = now + this.sweepIntervalMs;
    for (const [name, lease] of this.leases) if (lease.expiresAt <= now) this.leases.delete(name);
    for (const [runId, buffer] of this.runs) {
      if (buffer.expiresAt !== null && buffer.expiresAt <= now) this.runs.delete(runId);
    }
    for (const [key, window] of this.windows) if (window.resetAt <= now) this.windows.delete(key);
    for (const [digest, t] of this.tickets) if (t.lapsesAt <= now) this.tickets.delete(digest);
  }
}

function definedFields(patch: ContainerPatch): ContainerPatch {
  return Object.fromEntries(
    Object.entries(patch).filter(([, v]) => v !== undefined),
  ) as ContainerPatch;
}
