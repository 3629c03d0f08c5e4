import { WorkcellError } from '@workcell/protocol';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import type {
  ApprovalRecord,
  ApprovalSettlement,
  ContainerRecord,
  OutboxEntry,
  StateStore,
  TicketGrant,
} from '../../packages/host/src/state/index.js';
import { memoryHarness, redisHarness, type StoreHarness } from './harness.js';

/**
 * The StateStore contract: every case runs against the in-process store, one Redis server and
 * a three-master Redis Cluster, so a host behaves the same whichever it is configured with.
 */
const implementations: [string, () => StoreHarness][] = [
  ['memory', memoryHarness],
  ['redis', () => redisHarness(inject('redisUrl'))],
  ['redis cluster', () => redisHarness(inject('redisClusterUrl'))],
];

const IMAGE = 'workcell/workspace:test';
/** Lease, buffer and window lifetime in the expiry cases; real milliseconds on Redis. */
const TTL_MS = 200;

function record(id: string, overrides: Partial<ContainerRecord> = {}): ContainerRecord {
  return {
    id,
    slotId: `slot-${id}`,
    hostId: 'host-a',
    image: IMAGE,
    state: 'warm',
    workspaceId: null,
    tenant: null,
    createdAt: 1_000,
    stateChangedAt: 1_000,
    lastRunEndedAt: null,
    runId: null,
    ...overrides,
  };
}

async function addWarmContainers(store: StateStore, ids: string[]): Promise<void> {
  for (const id of ids) {
    await store.putContainer(record(id));
    await store.addWarm(IMAGE, id);
  }
}

describe.each(implementations)('StateStore contract: %s', (_name, makeHarness) => {
  let h: StoreHarness;
  let store: StateStore;

  beforeEach(() => {
    h = makeHarness();
    store = h.store;
  });

  afterEach(async () => {
    await h.close();
  });

  describe('containers', () => {
    it('stores, reads, lists and deletes container records', async () => {
      const a = record('c-a', {
        createdAt: 2_000,
        workspaceId: 'w-1',
        tenant: 't-1',
        lastRunEndedAt: 1_500,
      });
      const b = record('c-b', { createdAt: 1_000, state: 'running', runId: 'run-1' });
      await store.putContainer(a);
      await store.putContainer(b);

      expect(await store.getContainer('c-a')).toEqual(a);
      expect(await store.getContainer('c-missing')).toBeNull();
      expect(await store.listContainers()).toEqual([b, a]);

      await store.deleteContainer('c-b');
      expect(await store.getContainer('c-b')).toBeNull();
      expect(await store.listContainers()).toEqual([a]);
      await store.deleteContainer('c-missing');
    });

    it('replaces a record whole on put, nulls included', async () => {
      await store.putContainer(
        record('c-1', { workspaceId: 'w-1', tenant: 't', runId: 'r', lastRunEndedAt: 9 }),
      );
      const replaced = record('c-1', { state: 'idle' });
      await store.putContainer(replaced);
      expect(await store.getContainer('c-1')).toEqual(replaced);
    });

    it('hands out copies: changing a returned record changes nothing stored', async () => {
      await store.putContainer(record('c-1'));
      const got = await store.getContainer('c-1');
      if (!got) throw new Error('record missing');
      got.state = 'failed';
      const listed = await store.listContainers();
      listed[0]!.workspaceId = 'w-x';
      expect(await store.getContainer('c-1')).toEqual(record('c-1'));
    });
  });

  describe('transitionContainer', () => {
    it('applies the patch when the state is allowed and stamps stateChangedAt', async () => {
      await store.putContainer(
        record('c-1', { state: 'running', runId: 'run-1', workspaceId: 'w-1' }),
      );
      const next = await store.transitionContainer(
        'c-1',
        ['running'],
        { state: 'idle', runId: null, lastRunEndedAt: 5_000 },
        5_001,
      );
      const expected = record('c-1', {
        state: 'idle',
        runId: null,
        workspaceId: 'w-1',
        lastRunEndedAt: 5_000,
        stateChangedAt: 5_001,
      });
      expect(next).toEqual(expected);
      expect(await store.getContainer('c-1')).toEqual(expected);
    });

    it('refuses when the state is not one of `from`, leaving the record alone', async () => {
      await store.putContainer(record('c-1', { state: 'running' }));
      expect(
        await store.transitionContainer('c-1', ['idle'], { state: 'removing' }, 9_000),
      ).toBeNull();
      expect(await store.transitionContainer('c-1', [], { state: 'removing' }, 9_000)).toBeNull();
      expect(await store.getContainer('c-1')).toEqual(record('c-1', { state: 'running' }));
    });

    it('refuses for a container it does not know', async () => {
      expect(
        await store.transitionContainer('c-missing', ['idle'], { state: 'removing' }, 1),
      ).toBeNull();
      expect(await store.getContainer('c-missing')).toBeNull();
    });

    it('keeps stateChangedAt when the state stays the same', async () => {
      await store.putContainer(record('c-1', { state: 'idle', stateChangedAt: 1_234 }));
      const next = await store.transitionContainer(
        'c-1',
        ['idle', 'running'],
        { lastRunEndedAt: 7 },
        9_999,
      );
      expect(next).toEqual(
        record('c-1', { state: 'idle', stateChangedAt: 1_234, lastRunEndedAt: 7 }),
      );
    });

    it("lets only one of two GCs move an idle container to 'removing'", async () => {
      await store.putContainer(record('c-1', { state: 'idle' }));
      const results = await Promise.all([
        store.transitionContainer('c-1', ['idle'], { state: 'removing' }, 10),
        h.peer.transitionContainer('c-1', ['idle'], { state: 'removing' }, 11),
      ]);
      expect(results.filter((r) => r !== null)).toHaveLength(1);
    });
  });

  describe('warm pool', () => {
    it('answers null when the pool is empty', async () => {
      expect(await store.claimWarm(IMAGE, 'w-1', 't-1', 5_000)).toBeNull();
      expect(await store.getAssignment('w-1')).toBeNull();
    });

    it('claims a warm container: assigned to the workspace, out of the pool, assignment recorded', async () => {
      await addWarmContainers(store, ['c-1']);
      await store.putContainer(record('c-other', { image: 'other:1' }));
      await store.addWarm('other:1', 'c-other');

      const claimed = await store.claimWarm(IMAGE, 'w-1', 't-1', 5_000);
      const expected = record('c-1', {
        state: 'assigned',
        workspaceId: 'w-1',
        tenant: 't-1',
        stateChangedAt: 5_000,
      });
      expect(claimed).toEqual(expected);
      expect(await store.getContainer('c-1')).toEqual(expected);
      expect(await store.getAssignment('w-1')).toBe('c-1');
      expect(await store.listWarm(IMAGE)).toEqual([]);
      expect(await store.listWarm('other:1')).toEqual(['c-other']);
      expect(await store.claimWarm(IMAGE, 'w-2', 't-1', 5_001)).toBeNull();
    });

    it('skips and drops ids whose record is gone or no longer warm', async () => {
      await store.addWarm(IMAGE, 'c-gone');
      await store.putContainer(record('c-removing', { state: 'removing' }));
      await store.addWarm(IMAGE, 'c-removing');
      await addWarmContainers(store, ['c-warm']);

      const claimed = await store.claimWarm(IMAGE, 'w-1', 't-1', 5_000);
      expect(claimed?.id).toBe('c-warm');
      expect(await store.listWarm(IMAGE)).toEqual([]);
      expect(await store.getContainer('c-removing')).toEqual(
        record('c-removing', { state: 'removing' }),
      );
    });

    it('adds an id once and removes it on request', async () => {
      await addWarmContainers(store, ['c-1', 'c-2']);
      await store.addWarm(IMAGE, 'c-1');
      expect((await store.listWarm(IMAGE)).sort()).toEqual(['c-1', 'c-2']);
      expect(await store.removeWarm(IMAGE, 'c-1')).toBe(true);
      expect(await store.removeWarm(IMAGE, 'c-1')).toBe(false);
      expect(await store.listWarm(IMAGE)).toEqual(['c-2']);
    });

    it('gives 20 concurrent claims over 10 warm containers 10 distinct winners and 10 nulls', async () => {
      const ids = Array.from({ length: 10 }, (_, i) => `c-${i}`);
      await addWarmContainers(store, ids);

      const claims = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          (i % 2 === 0 ? store : h.peer).claimWarm(IMAGE, `w-${i}`, 't', 100 + i),
        ),
      );
      const winners = claims.filter((c): c is ContainerRecord => c !== null);
      expect(winners).toHaveLength(10);
      expect(new Set(winners.map((c) => c.id)).size).toBe(10);
      expect(claims.filter((c) => c === null)).toHaveLength(10);
      for (const winner of winners) {
        expect(await store.getAssignment(winner.workspaceId ?? '')).toBe(winner.id);
      }
      expect(await store.listWarm(IMAGE)).toEqual([]);
    });
  });

  describe('assignments', () => {
    it('sets, reads and clears an assignment only while it names the container', async () => {
      expect(await store.getAssignment('w-1')).toBeNull();
      await store.setAssignment('w-1', 'c-1');
      expect(await store.getAssignment('w-1')).toBe('c-1');

      expect(await store.clearAssignment('w-1', 'c-2')).toBe(false);
      expect(await store.getAssignment('w-1')).toBe('c-1');
      expect(await store.clearAssignment('w-1', 'c-1')).toBe(true);
      expect(await store.getAssignment('w-1')).toBeNull();
      expect(await store.clearAssignment('w-1', 'c-1')).toBe(false);
    });

    it('deleting a container drops its pool entry and the assignment that names it', async () => {
      await addWarmContainers(store, ['c-warm', 'c-keep']);
      await store.putContainer(record('c-busy', { state: 'running', workspaceId: 'w-1' }));
      await store.setAssignment('w-1', 'c-busy');

      await store.deleteContainer('c-warm');
      await store.deleteContainer('c-busy');

      expect(await store.listWarm(IMAGE)).toEqual(['c-keep']);
      expect(await store.getAssignment('w-1')).toBeNull();
      expect((await store.listContainers()).map((c) => c.id)).toEqual(['c-keep']);
    });

    it('deleting a container leaves an assignment that names another container', async () => {
      await store.putContainer(record('c-old', { state: 'idle', workspaceId: 'w-1' }));
      await store.setAssignment('w-1', 'c-new');
      await store.deleteContainer('c-old');
      expect(await store.getAssignment('w-1')).toBe('c-new');
    });
  });

  describe('leases', () => {
    it('grants a free lease to one holder at a time and re-grants it to the same holder', async () => {
      expect(await store.getLeaseHolder('gc')).toBeNull();
      expect(await store.acquireLease('gc', 'host-a', TTL_MS * 10)).toBe(true);
      expect(await h.peer.acquireLease('gc', 'host-b', TTL_MS * 10)).toBe(false);
      expect(await store.acquireLease('gc', 'host-a', TTL_MS * 10)).toBe(true);
      expect(await h.peer.getLeaseHolder('gc')).toBe('host-a');
    });

    it('releases only for the holder', async () => {
      await store.acquireLease('gc', 'host-a', TTL_MS * 10);
      expect(await h.peer.releaseLease('gc', 'host-b')).toBe(false);
      expect(await store.getLeaseHolder('gc')).toBe('host-a');
      expect(await store.releaseLease('gc', 'host-a')).toBe(true);
      expect(await store.getLeaseHolder('gc')).toBeNull();
      expect(await store.releaseLease('gc', 'host-a')).toBe(false);
      expect(await h.peer.acquireLease('gc', 'host-b', TTL_MS * 10)).toBe(true);
    });

    it('frees a lease its holder stopped renewing', async () => {
      expect(await store.acquireLease('gc', 'host-a', TTL_MS)).toBe(true);
      await h.elapse(TTL_MS + 100);
      expect(await store.getLeaseHolder('gc')).toBeNull();
      expect(await store.renewLease('gc', 'host-a', TTL_MS)).toBe(false);
      expect(await h.peer.acquireLease('gc', 'host-b', TTL_MS)).toBe(true);
      expect(await store.releaseLease('gc', 'host-a')).toBe(false);
      expect(await store.getLeaseHolder('gc')).toBe('host-b');
    });

    it('keeps a renewed lease past its first expiry, and renews only for the holder', async () => {
      expect(await store.acquireLease('gc', 'host-a', TTL_MS)).toBe(true);
      await h.elapse(TTL_MS / 2);
      expect(await h.peer.renewLease('gc', 'host-b', TTL_MS * 3)).toBe(false);
      expect(await store.renewLease('gc', 'host-a', TTL_MS * 3)).toBe(true);
      await h.elapse(TTL_MS + 50);
      expect(await store.getLeaseHolder('gc')).toBe('host-a');
      expect(await h.peer.acquireLease('gc', 'host-b', TTL_MS)).toBe(false);
    });
  });

  describe('run events', () => {
    const event = (seq: number) => ({
      seq,
      event: 'message' as const,
      data: JSON.stringify({ n: seq, text: `é ${seq}` }),
    });

    it('appends events in seq order and reads them after a seq, up to a limit', async () => {
      for (let seq = 1; seq <= 5; seq++) await store.appendRunEvent('run-1', event(seq));

      expect(await store.readRunEvents('run-1', 0)).toEqual([1, 2, 3, 4, 5].map(event));
      expect(await h.peer.readRunEvents('run-1', 2)).toEqual([3, 4, 5].map(event));
      expect(await store.readRunEvents('run-1', 1, 2)).toEqual([2, 3].map(event));
      expect(await store.readRunEvents('run-1', 5)).toEqual([]);
      expect(await store.readRunEvents('run-missing', 0)).toEqual([]);
    });

    it("answers the seq of a buffer's last event, 0 for none", async () => {
      expect(await store.lastRunEventSeq('run-1')).toBe(0);
      for (let seq = 1; seq <= 3; seq++) await store.appendRunEvent('run-1', event(seq));
      expect(await store.lastRunEventSeq('run-1')).toBe(3);
      expect(await h.peer.lastRunEventSeq('run-1')).toBe(3);
    });

    it('refuses an event whose seq is not the last seq + 1', async () => {
      const refusal = { code: 'conflict' };
      await expect(store.appendRunEvent('run-1', event(2))).rejects.toMatchObject(refusal);
      await store.appendRunEvent('run-1', event(1));
      await store.appendRunEvent('run-1', event(2));
      await expect(store.appendRunEvent('run-1', event(2))).rejects.toBeInstanceOf(WorkcellError);
      await expect(h.peer.appendRunEvent('run-1', event(4))).rejects.toMatchObject(refusal);
      await expect(store.appendRunEvent('run-1', event(0))).rejects.toMatchObject(refusal);
      expect(await store.readRunEvents('run-1', 0)).toEqual([1, 2].map(event));
    });

    it('drops a run buffer once its expiry passes', async () => {
      await store.appendRunEvent('run-1', event(1));
      await store.appendRunEvent('run-2', event(1));
      await store.expireRunEvents('run-1', TTL_MS);
      await store.expireRunEvents('run-missing', TTL_MS);
      expect(await store.readRunEvents('run-1', 0)).toEqual([event(1)]);

      await h.elapse(TTL_MS + 100);
      expect(await store.readRunEvents('run-1', 0)).toEqual([]);
      expect(await store.readRunEvents('run-2', 0)).toEqual([event(1)]);
      await store.appendRunEvent('run-1', event(1));
      expect(await store.readRunEvents('run-1', 0)).toEqual([event(1)]);
    });
  });

  describe('rate-limit windows', () => {
    it('counts hits in a fixed window and starts over when it ends', async () => {
      const first = await store.hit('ip:1', TTL_MS);
      expect(first.count).toBe(1);
      expect(first.resetInMs).toBeGreaterThan(0);
      expect(first.resetInMs).toBeLessThanOrEqual(TTL_MS);
      expect((await h.peer.hit('ip:1', TTL_MS)).count).toBe(2);
      const third = await store.hit('ip:1', TTL_MS);
      expect(third.count).toBe(3);
      expect(third.resetInMs).toBeLessThanOrEqual(first.resetInMs);
      expect((await store.hit('ip:2', TTL_MS)).count).toBe(1);

      await h.elapse(TTL_MS + 100);
      expect((await store.hit('ip:1', TTL_MS)).count).toBe(1);
    });
  });

  describe('webhook outbox', () => {
    const entry = (id: string, overrides: Partial<OutboxEntry> = {}): OutboxEntry => ({
      id,
      tenant: 't-1',
      endpointId: 'wh_1',
      body: `{"type":"run.completed","id":"${id}"}`,
      attempts: 0,
      createdAt: 1_000,
      ...overrides,
    });

    it('hands out only due deliveries, oldest due first, and keeps the first of one id', async () => {
      await store.enqueueDelivery(entry('msg_b'), 2_000);
      await store.enqueueDelivery(entry('msg_a'), 1_000);
      await store.enqueueDelivery(entry('msg_late'), 9_000);
      await store.enqueueDelivery(entry('msg_a', { body: 'replaced?' }), 500);
      expect(await store.countDeliveries()).toBe(3);

      const claimed = await store.claimDeliveries(5_000, 60_000, 10, 'claim-1');
      expect(claimed).toEqual([entry('msg_a'), entry('msg_b')]);
      expect(await store.claimDeliveries(5_000, 60_000, 10, 'claim-2')).toEqual([]);
      expect((await store.claimDeliveries(9_000, 60_000, 1, 'claim-3')).map((e) => e.id)).toEqual([
        'msg_late',
      ]);
    });

    it('hides a claimed delivery until its lease ends, then another claimer gets it', async () => {
      await store.enqueueDelivery(entry('msg_1'), 1_000);
      expect(await store.claimDeliveries(1_000, 5_000, 10, 'host-a')).toHaveLength(1);
      expect(await h.peer.claimDeliveries(5_999, 5_000, 10, 'host-b')).toEqual([]);
      // host-a died without settling: the delivery comes due again for host-b.
      expect(await h.peer.claimDeliveries(6_000, 5_000, 10, 'host-b')).toEqual([entry('msg_1')]);
      // host-a's late settlement no longer counts; host-b's does.
      expect(await store.completeDelivery('msg_1', 'host-a')).toBe(false);
      expect(await h.peer.completeDelivery('msg_1', 'host-b')).toBe(true);
      expect(await store.countDeliveries()).toBe(0);
      expect(await store.claimDeliveries(99_000, 5_000, 10, 'host-a')).toEqual([]);
    });

    it('puts a failed attempt back with its count, due at the retry time', async () => {
      await store.enqueueDelivery(entry('msg_r'), 1_000);
      const [claimed] = await store.claimDeliveries(1_000, 60_000, 10, 'c1');
      const retried = { ...(claimed as OutboxEntry), attempts: 1 };
      expect(await store.retryDelivery(retried, 'wrong-claim', 3_000)).toBe(false);
      expect(await store.retryDelivery(retried, 'c1', 3_000)).toBe(true);
      expect(await store.retryDelivery(retried, 'c1', 3_000)).toBe(false);
      expect(await store.claimDeliveries(2_999, 60_000, 10, 'c2')).toEqual([]);
      expect(await store.claimDeliveries(3_000, 60_000, 10, 'c2')).toEqual([retried]);
    });

    it('never hands one delivery to two claimers at once', async () => {
      for (let i = 0; i < 40; i += 1) await store.enqueueDelivery(entry(`msg_${i}`), 1_000);
      const claims = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          (i % 2 === 0 ? store : h.peer).claimDeliveries(2_000, 60_000, 7, `claim-${i}`),
        ),
      );
      const ids = claims.flat().map((e) => e.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids.length).toBe(40);
    });
  });

  describe('browser tickets', () => {
    const grant: TicketGrant = {
      tenant: 't-1',
      workspaceId: 'w-1',
      purpose: 'terminal',
      expiresAt: 9_999_999_999_999,
    };

    it('hands a ticket out once: the second take, from any host, finds nothing', async () => {
      await store.putTicket('digest-1', grant, 60_000);
      expect(await store.takeTicket('digest-1')).toEqual(grant);
      expect(await store.takeTicket('digest-1')).toBeNull();
      expect(await h.peer.takeTicket('digest-1')).toBeNull();
      expect(await store.takeTicket('digest-never')).toBeNull();
    });

    it('lets only one of many concurrent takers, on two hosts, have it', async () => {
      await store.putTicket('digest-race', grant, 60_000);
      const taken = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          (i % 2 === 0 ? store : h.peer).takeTicket('digest-race'),
        ),
      );
      expect(taken.filter((g) => g !== null)).toEqual([grant]);
    });

    it('forgets a ticket after its TTL', async () => {
      await store.putTicket('digest-old', grant, TTL_MS);
      await store.putTicket('digest-new', { ...grant, purpose: 'events' }, 60_000);
      await h.elapse(TTL_MS + 100);
      expect(await store.takeTicket('digest-old')).toBeNull();
      expect(await h.peer.takeTicket('digest-new')).toEqual({ ...grant, purpose: 'events' });
    });
  });

  describe('approvals', () => {
    const approval = (id: string, conversationId = 'conv-1'): ApprovalRecord => ({
      id,
      kind: 'approval',
      tenant: 'tenant-a',
      workspaceId: 'ws-1',
      conversationId,
      runId: 'run-1',
      hostId: 'host-a',
      toolUseId: 'toolu_1',
      toolName: 'Bash',
      input: { command: 'ls', items: [], nested: {} },
      inputSchema: null,
      createdAt: 1_000,
    });
    const allowed: ApprovalSettlement = {
      status: 'allowed',
      reason: 'client',
      message: null,
      decidedAt: 2_000,
    };

    it('keeps a record as written (empty arrays and objects included) and lists it on every host', async () => {
      await store.putApproval(approval('apr_1'), 60_000);
      await store.putApproval(approval('apr_2'), 60_000);
      await store.putApproval(approval('apr_3', 'conv-2'), 60_000);
      expect(await h.peer.getApproval('conv-1', 'apr_1')).toEqual({
        record: approval('apr_1'),
        settlement: null,
      });
      expect((await h.peer.listApprovals('conv-1')).map((a) => a.record.id).sort()).toEqual([
        'apr_1',
        'apr_2',
      ]);
      expect(await store.getApproval('conv-2', 'apr_1')).toBeNull();
    });

    it('settles an item once: of two deciders on two hosts exactly one wins', async () => {
      await store.putApproval(approval('apr_race'), 60_000);
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          (i % 2 === 0 ? store : h.peer).settleApproval('conv-1', 'apr_race', {
            ...allowed,
            decidedAt: 2_000 + i,
          }),
        ),
      );
      expect(results.filter((r) => r === 'settled')).toHaveLength(1);
      expect(results.filter((r) => r === 'already')).toHaveLength(7);
      const winner = results.indexOf('settled');
      expect((await store.getApproval('conv-1', 'apr_race'))?.settlement).toEqual({
        ...allowed,
        decidedAt: 2_000 + winner,
      });
      expect(await store.settleApproval('conv-1', 'apr_missing', allowed)).toBe('missing');
      expect(await store.getApproval('conv-1', 'apr_missing')).toBeNull();
    });

    it("forgets a conversation's items after their TTL", async () => {
      await store.putApproval(approval('apr_old'), TTL_MS);
      await h.elapse(TTL_MS + 100);
      expect(await h.peer.listApprovals('conv-1')).toEqual([]);
      expect(await store.settleApproval('conv-1', 'apr_old', allowed)).toBe('missing');
    });
  });
});
