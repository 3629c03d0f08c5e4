import { WorkcellError, isRunEventName } from '@workcell/protocol';
import type { Logger } from 'pino';
import { stateKeys, type StateKeys } from './keys.js';
import { SCRIPTS } from './lua/index.js';
import { Cluster } from 'ioredis';
import { connectRedis, type RedisClient } from './redis-client.js';
import { withoutPassword } from './redis-url.js';
import {
  byCreation,
  decodeFlatRecord,
  decodeRecord,
  encodePatch,
  encodeRecord,
  type ContainerPatch,
} from './record-codec.js';
import type {
  BufferedEvent,
  ContainerRecord,
  ContainerState,
  OutboxEntry,
  RunAttachment,
  StateStore,
  TicketGrant,
  ApprovalRecord,
  ApprovalSettlement,
  StoredApproval,
} from './state-store.js';

export interface RedisStateStoreOptions {
  /** `redis://[user:password@]host:port[/db]`, or `redis+cluster://host:port,host:port,...` */
  url: string;
  /** Every key starts with `<keyPrefix>:`; default `workcell`. */
  keyPrefix?: string;
  logger?: Logger;
  /** How long `ping()` waits for an answer before it reports Redis down. */
  pingTimeoutMs?: number;
}

/** How often, and how long apart (times the attempt), a call refused by a cluster in motion is made again. */
const CLUSTER_RETRIES = 10;
const CLUSTER_RETRY_DELAY_MS = 100;

/** Refusals of a Redis Cluster whose slots move or whose node is not ready: the command did not run. */
const CLUSTER_TRANSIENT = /^(MOVED|ASK|TRYAGAIN|CLUSTERDOWN|LOADING|READONLY|MASTERDOWN) /;

function isClusterTransient(err: unknown): boolean {
  return err instanceof Error && err.name === 'ReplyError' && CLUSTER_TRANSIENT.test(err.message);
}

/** A script registered with `defineCommand`: keys first, then arguments. */
type ScriptCall = (...keysThenArgs: (string | number)[]) => Promise<unknown>;
type ScriptName = keyof typeof SCRIPTS;

/**
 * The StateStore on Redis (one server or a Redis Cluster), shared by every host that points at
 * the same Redis and key prefix. Each compare-and-set is one Lua script (see `lua/`) on keys of
 * one hash slot (see `keys.ts`); plain reads and writes are single commands. A step that
 * touches keys of several slots (claiming a warm container, deleting a record) is a sequence of
 * single-slot steps ordered so that a host dying between two of them leaves state that readers
 * tolerate and GC repairs. While Redis is down, calls fail within a few reconnect attempts with a
 * `dependency_unavailable` WorkcellError instead of waiting; the client keeps reconnecting and
 * the first call after Redis is back works (scripts are re-sent when Redis lost them).
 */
export class RedisStateStore implements StateStore {
  readonly kind = 'redis' as const;
  readonly keys: StateKeys;

  private readonly redis: RedisClient;
  private readonly scripts: Record<ScriptName, ScriptCall>;
  private readonly where: string;
  private readonly pingTimeoutMs: number;
  private readonly logger: Logger | undefined;
  private reportedDown = false;

  constructor(options: RedisStateStoreOptions) {
    this.keys = stateKeys(options.keyPrefix);
    this.where = withoutPassword(options.url);
    this.pingTimeoutMs = options.pingTimeoutMs ?? 2_000;
    this.logger = options.logger?.child({ component: 'state', redis: this.where });
    this.redis = connectRedis(options.url);
    this.redis.on('error', (err: Error) => this.onConnectionError(err));
    this.redis.on('ready', () => this.onReady());

    const scripts: Partial<Record<ScriptName, ScriptCall>> = {};
    for (const [key, script] of Object.entries(SCRIPTS) as [
      ScriptName,
      (typeof SCRIPTS)[ScriptName],
    ][]) {
      this.redis.defineCommand(script.name, { numberOfKeys: script.numberOfKeys, lua: script.lua });
      // defineCommand adds the method at run time; ioredis cannot type it.
      const call = (this.redis as unknown as Record<string, ScriptCall>)[script.name];
      if (!call) throw new Error(`ioredis did not define ${script.name}`);
      scripts[key] = call.bind(this.redis);
    }
    this.scripts = scripts as Record<ScriptName, ScriptCall>;
  }

  async ping(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no answer within ${this.pingTimeoutMs} ms`)),
        this.pingTimeoutMs,
      );
    });
    try {
      await Promise.race([this.redis.ping(), timeout]);
    } catch (err) {
      throw this.failure('PING', err);
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    if (this.redis.status === 'ready') {
      try {
        await this.redis.quit();
        return;
      } catch {
        // The connection dropped while quitting; disconnect below ends it either way.
      }
    }
    this.redis.disconnect();
  }

  async putContainer(record: ContainerRecord): Promise<void> {
    // Indexed first: an id whose record is missing is skipped by readers, a record missing
    // from the index would be invisible to them.
    await this.run('putContainer', () => this.redis.sadd(this.keys.containers, record.id));
    await this.script(
      'putContainer',
      this.keys.container(record.id),
      ...Object.entries(encodeRecord(record)).flat(),
    );
  }

  async getContainer(id: string): Promise<ContainerRecord | null> {
    const hash = await this.run('getContainer', () => this.redis.hgetall(this.keys.container(id)));
    return decodeRecord(hash);
  }

  async listContainers(): Promise<ContainerRecord[]> {
    const records = await this.run('listContainers', async () => {
      const ids = await this.redis.smembers(this.keys.containers);
      // One read per record: records live in slots of their own, which one pipeline cannot
      // span on a cluster. Reads go out together and are answered in parallel.
      return Promise.all(ids.map(async (id) => decodeRecord(await this.readRecord(id))));
    });
    return records.filter((r): r is ContainerRecord => r !== null).sort(byCreation);
  }

  private readRecord(id: string): Promise<Record<string, string>> {
    return this.redis.hgetall(this.keys.container(id));
  }

  async transitionContainer(
    id: string,
    from: readonly ContainerState[],
    patch: ContainerPatch,
    now: number,
  ): Promise<ContainerRecord | null> {
    const { set, del } = encodePatch(patch);
    const reply = await this.script(
      'transitionContainer',
      this.keys.container(id),
      now,
      from.length,
      ...from,
      set.length,
      ...set.flat(),
      ...del,
    );
    return reply === null ? null : decodeFlatRecord(reply as string[]);
  }

  async deleteContainer(id: string): Promise<void> {
    const record = await this.getContainer(id);
    if (record) {
      await this.run('deleteContainer', () => this.redis.zrem(this.keys.warm(record.image), id));
      if (record.workspaceId) await this.clearAssignment(record.workspaceId, id);
      await this.run('deleteContainer', () => this.redis.del(this.keys.container(id)));
    }
    await this.run('deleteContainer', () => this.redis.srem(this.keys.containers, id));
  }

  async addWarm(image: string, id: string): Promise<void> {
    await this.run('addWarm', () => this.redis.zadd(this.keys.warm(image), 'NX', Date.now(), id));
  }

  /**
   * ZPOPMIN hands each id to one caller only; the record's compare-and-set from `warm` then
   * decides against a GC removing it at the same moment. A host that dies between the two
   * leaves a `warm` record outside the pool, which GC puts back.
   */
  async claimWarm(
    image: string,
    workspaceId: string,
    tenant: string,
    now: number,
  ): Promise<ContainerRecord | null> {
    for (;;) {
      const popped = await this.run('claimWarm', () => this.redis.zpopmin(this.keys.warm(image)));
      const id = popped[0];
      if (id === undefined) return null;
      const claimed = await this.transitionContainer(
        id,
        ['warm'],
        { state: 'assigned', workspaceId, tenant },
        now,
      );
      if (!claimed) continue;
      await this.setAssignment(workspaceId, id);
      return claimed;
    }
  }

  async listWarm(image: string): Promise<string[]> {
    return this.run('listWarm', () => this.redis.zrange(this.keys.warm(image), 0, -1));
  }

  async removeWarm(image: string, id: string): Promise<boolean> {
    return (await this.run('removeWarm', () => this.redis.zrem(this.keys.warm(image), id))) === 1;
  }

  async getAssignment(workspaceId: string): Promise<string | null> {
    return this.run('getAssignment', () => this.redis.get(this.keys.assignment(workspaceId)));
  }

  async setAssignment(workspaceId: string, containerId: string): Promise<void> {
    await this.run('setAssignment', () =>
      this.redis.set(this.keys.assignment(workspaceId), containerId),
    );
  }

  async clearAssignment(workspaceId: string, containerId: string): Promise<boolean> {
    return (
      (await this.script('clearAssignment', this.keys.assignment(workspaceId), containerId)) === 1
    );
  }

  async acquireLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    return (await this.script('acquireLease', this.keys.lease(name), holder, ttlMs)) === 1;
  }

  async renewLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    return (await this.script('renewLease', this.keys.lease(name), holder, ttlMs)) === 1;
  }

  async releaseLease(name: string, holder: string): Promise<boolean> {
    return (await this.script('releaseLease', this.keys.lease(name), holder)) === 1;
  }

  async getLeaseHolder(name: string): Promise<string | null> {
    return this.run('getLeaseHolder', () => this.redis.get(this.keys.lease(name)));
  }

  async appendRunEvent(runId: string, event: BufferedEvent): Promise<void> {
    const [appended, last] = (await this.script(
      'appendRunEvent',
      this.keys.runEvents(runId),
      event.seq,
      event.event,
      event.data,
    )) as [number, number];
    if (appended !== 1) {
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
  }

  async readRunEvents(runId: string, afterSeq: number, limit?: number): Promise<BufferedEvent[]> {
    if (limit !== undefined && limit <= 0) return [];
    const key = this.keys.runEvents(runId);
    const start = `${Math.max(0, Math.floor(afterSeq)) + 1}-0`;
    const entries = await this.run('readRunEvents', () =>
      limit === undefined
        ? this.redis.xrange(key, start, '+')
        : this.redis.xrange(key, start, '+', 'COUNT', limit),
    );
    return entries.map(([id, fields]) => {
      const values = new Map<string, string>();
      for (let i = 0; i + 1 < fields.length; i += 2)
        values.set(fields[i] as string, fields[i + 1] as string);
      const event = values.get('event');
      if (!isRunEventName(event))
        throw new WorkcellError(
          'dependency_unavailable',
          `run buffer ${key} holds an entry that is not a run event`,
        );
      return { seq: Number(id.split('-')[0]), event, data: values.get('data') ?? '' };
    });
  }

  async lastRunEventSeq(runId: string): Promise<number> {
    const key = this.keys.runEvents(runId);
    const entries = await this.run('lastRunEventSeq', () =>
      this.redis.xrevrange(key, '+', '-', 'COUNT', 1),
    );
    const id = entries[0]?.[0];
    return id === undefined ? 0 : Number(id.split('-')[0]);
  }

  async expireRunEvents(runId: string, ttlMs: number): Promise<void> {
    await this.run('expireRunEvents', () => this.redis.pexpire(this.keys.runEvents(runId), ttlMs));
  }

  async hit(key: string, windowMs: number): Promise<{ count: number; resetInMs: number }> {
    const [count, resetInMs] = (await this.script('hit', this.keys.hit(key), windowMs)) as [
      number,
      number,
    ];
    return { count, resetInMs };
  }

  async enqueueDelivery(entry: OutboxEntry, dueAt: number): Promise<void> {
    const { due, entries } = this.keys.outbox;
    await this.script('enqueueDelivery', due, entries, entry.id, JSON.stringify(entry), dueAt);
  }

  async claimDeliveries(
    now: number,
    leaseMs: number,
    limit: number,
    claim: string,
  ): Promise<OutboxEntry[]> {
    if (limit <= 0) return [];
    const { due, entries, claims } = this.keys.outbox;
    const reply = (await this.script(
      'claimDeliveries',
      due,
      entries,
      claims,
      now,
      leaseMs,
      limit,
      claim,
    )) as string[];
    return reply.map((json) => JSON.parse(json) as OutboxEntry);
  }

  async completeDelivery(id: string, claim: string): Promise<boolean> {
    const { due, entries, claims } = this.keys.outbox;
    return (await this.script('settleDelivery', due, entries, claims, id, claim, 'remove')) === 1;
  }

  async retryDelivery(entry: OutboxEntry, claim: string, dueAt: number): Promise<boolean> {
    const { due, entries, claims } = this.keys.outbox;
    const reply = await this.script(
      'settleDelivery',
      due,
      entries,
      claims,
      entry.id,
      claim,
      'retry',
      JSON.stringify(entry),
      dueAt,
    );
    return reply === 1;
  }

  async countDeliveries(): Promise<number> {
    return this.run('countDeliveries', () => this.redis.hlen(this.keys.outbox.entries));
  }

  async putTicket(digest: string, grant: TicketGrant, ttlMs: number): Promise<void> {
    await this.run('putTicket', () =>
      this.redis.set(this.keys.ticket(digest), JSON.stringify(grant), 'PX', ttlMs),
    );
  }

  async putRunAttachment(attachment: RunAttachment): Promise<void> {
    await this.run('putRunAttachment', () =>
      this.redis.hset(this.keys.attachedRuns, attachment.runId, JSON.stringify(attachment)),
    );
  }

  async listRunAttachments(): Promise<RunAttachment[]> {
    const all = await this.run('listRunAttachments', () =>
      this.redis.hvals(this.keys.attachedRuns),
    );
    return all.map((text) => JSON.parse(text) as RunAttachment);
  }

  async deleteRunAttachment(runId: string): Promise<void> {
    await this.run('deleteRunAttachment', () => this.redis.hdel(this.keys.attachedRuns, runId));
  }

  async takeTicket(digest: string): Promise<TicketGrant | null> {
    const reply = await this.script('takeTicket', this.keys.ticket(digest));
    return typeof reply === 'string' ? (JSON.parse(reply) as TicketGrant) : null;
  }

  async putApproval(record: ApprovalRecord, ttlMs: number): Promise<void> {
    const key = this.keys.approvals(record.conversationId);
    await this.run('putApproval', () =>
      this.redis
        .multi()
        .hset(key, `r:${record.id}`, JSON.stringify(record))
        .pexpire(key, ttlMs)
        .exec(),
    );
  }

  async getApproval(conversationId: string, id: string): Promise<StoredApproval | null> {
    const [record, settlement] = await this.run('getApproval', () =>
      this.redis.hmget(this.keys.approvals(conversationId), `r:${id}`, `s:${id}`),
    );
    if (!record) return null;
    return {
      record: JSON.parse(record) as ApprovalRecord,
      settlement: settlement ? (JSON.parse(settlement) as ApprovalSettlement) : null,
    };
  }

  async listApprovals(conversationId: string): Promise<StoredApproval[]> {
    const all = await this.run('listApprovals', () =>
      this.redis.hgetall(this.keys.approvals(conversationId)),
    );
    const out: StoredApproval[] = [];
    for (const [field, value] of Object.entries(all)) {
      if (!field.startsWith('r:')) continue;
      const settlement = all[`s:${field.slice(2)}`];
      out.push({
        record: JSON.parse(value) as ApprovalRecord,
        settlement: settlement ? (JSON.parse(settlement) as ApprovalSettlement) : null,
      });
    }
    return out;
  }

  async settleApproval(
    conversationId: string,
    id: string,
    settlement: ApprovalSettlement,
  ): Promise<'settled' | 'already' | 'missing'> {
    const reply = await this.script(
      'settleApproval',
      this.keys.approvals(conversationId),
      id,
      JSON.stringify(settlement),
    );
    return reply === 1 ? 'settled' : reply === 0 ? 'already' : 'missing';
  }

  private script(name: ScriptName, ...keysThenArgs: (string | number)[]): Promise<unknown> {
    return this.run(name, () => this.scripts[name](...keysThenArgs));
  }

  /**
   * Runs one Redis call, turning its failure into a WorkcellError that names Redis. A refusal a
   * Redis Cluster answers while its slots move (a failover: `MOVED`, `ASK`, `TRYAGAIN`,
   * `CLUSTERDOWN`, ...) is answered before the command runs, so the call is made again, up to
   * `CLUSTER_RETRIES` times, once the client has the new slot map.
   */
  private async run<T>(op: string, call: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt += 1) {
      try {
        return await call();
      } catch (err) {
        if (!isClusterTransient(err) || attempt >= CLUSTER_RETRIES) throw this.failure(op, err);
        if (this.redis instanceof Cluster) this.redis.refreshSlotsCache();
        await new Promise((resolve) => setTimeout(resolve, CLUSTER_RETRY_DELAY_MS * (attempt + 1)));
      }
    }
  }

  /**
   * A reply error is Redis refusing a command (a bug here); anything else is the connection,
   * which a caller reports as a dependency being unavailable.
   */
  private failure(op: string, err: unknown): WorkcellError {
    if (err instanceof WorkcellError) return err;
    const message = err instanceof Error ? err.message : String(err);
    const replyError =
      err instanceof Error && err.name === 'ReplyError' && !isClusterTransient(err);
    const failure = new WorkcellError(
      replyError ? 'internal' : 'dependency_unavailable',
      replyError
        ? `Redis at ${this.where} refused ${op}: ${message}`
        : `Redis at ${this.where} is unavailable (${op}): ${message}`,
      replyError ? undefined : { dependency: 'stateStore' },
    );
    failure.cause = err;
    return failure;
  }

  private onConnectionError(err: Error): void {
    if (this.reportedDown) return;
    this.reportedDown = true;
    this.logger?.warn({ err }, 'Redis connection failed; reconnecting');
  }

  private onReady(): void {
    if (!this.reportedDown) return;
    this.reportedDown = false;
    this.logger?.info('Redis connection restored');
  }
}
