import type { AgentAnswer } from '@workcell/protocol';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { loggedItems, waitedMs } from '../../src/approvals/carried-on.js';
import { ApprovalService } from '../../src/approvals/index.js';
import type { ConversationRecord } from '../../src/catalog/catalog.js';
import { LocalControlBus } from '../../src/control/control-bus.js';
import { MemoryStateStore } from '../../src/state/memory-store.js';
import type { ApprovalRecord, BufferedEvent } from '../../src/state/state-store.js';
import { ManualClock } from '../../src/time/clock.js';

const logger = pino({ level: 'silent' });

function record(id: string, createdAt: number, runId = 'run_1'): ApprovalRecord {
  return {
    id,
    kind: 'approval',
    tenant: 'tenant-a',
    workspaceId: 'ws_1',
    conversationId: 'conv_1',
    runId,
    hostId: 'host-a',
    toolUseId: 'toolu_1',
    toolName: 'Bash',
    input: { command: 'ls' },
    inputSchema: null,
    createdAt,
  };
}

const PENDING = 'apr_pendingpendingpending';
const DECIDED = 'apr_decideddecideddecided';
const ALLOW: AgentAnswer = { kind: 'decision', decision: 'allow', reason: 'client' };

/** A host carrying run_1 on: its ApprovalService, the answers its agent got, its run's log. */
function carrier() {
  const state = new MemoryStateStore();
  const clock = new ManualClock(10_000);
  const conversation = {
    id: 'conv_1',
    tenant: 'tenant-a',
    runs: [{ id: 'run_1', status: 'running' }],
  } as ConversationRecord;
  const bus = new LocalControlBus('host-b', logger);
  const service = new ApprovalService({
    state,
    catalog: { getConversation: () => Promise.resolve(conversation) },
    bus,
    clock,
    logger,
    hostId: 'host-b',
    settings: { timeoutMs: 60_000, recordTtlMs: 120_000 },
  });
  const delivered: { itemId: string; token: string; answer: AgentAnswer }[] = [];
  const appended: { event: string; data: unknown }[] = [];
  let paused = 0;
  const items = service.attach({
    runId: 'run_1',
    tenant: 'tenant-a',
    workspaceId: 'ws_1',
    conversationId: 'conv_1',
    clientTools: [],
    controlToken: 'the-run-token',
    deliver: (itemId, token, answer) => {
      delivered.push({ itemId, token, answer });
      return Promise.resolve('accepted');
    },
    append: (event, data) => appended.push({ event, data }),
    pause: () => (paused += 1),
    resume: () => (paused -= 1),
  });
  return { state, clock, service, items, delivered, appended, paused: () => paused };
}

describe('the approvals of a run carried on by another host', () => {
  it('keeps the run control token, waits for what is pending without announcing it again, and delivers a later decision', async () => {
    const { state, service, items, delivered, appended, paused } = carrier();
    await state.putApproval(record(PENDING, 9_000), 60_000);
    await items.restore({ requested: new Set([PENDING]), resolved: new Set() });
    expect(paused()).toBe(1);
    // The agent's stream read again from its start announces the item again: not logged twice.
    await items.onEvent({
      type: 'approval.requested',
      approvalId: PENDING,
      toolUseId: 'toolu_1',
      toolName: 'Bash',
      input: { command: 'ls' },
    });
    expect(appended).toEqual([]);

    await service.decide('tenant-a', 'conv_1', PENDING, { decision: 'allow' });
    expect(delivered).toEqual([{ itemId: PENDING, token: 'the-run-token', answer: ALLOW }]);
    expect(appended).toEqual([
      {
        event: 'approval.resolved',
        data: { approvalId: PENDING, decision: 'allow', reason: 'client' },
      },
    ]);
    expect(paused()).toBe(0);
  });

  it('delivers a decision settled while no host held the run, once, and leaves what the log resolved alone', async () => {
    const { state, items, delivered, appended, paused } = carrier();
    const done = 'apr_resolvedresolvedresol';
    for (const id of [DECIDED, done]) {
      await state.putApproval(record(id, 9_000), 60_000);
      await state.settleApproval('conv_1', id, {
        status: 'allowed',
        reason: 'client',
        message: null,
        decidedAt: 9_500,
        answer: ALLOW,
      });
    }
    await state.putApproval(record('apr_otherrunotherrunother', 9_000, 'run_2'), 60_000);
    await items.restore({ requested: new Set([DECIDED, done]), resolved: new Set([done]) });
    expect(delivered).toEqual([{ itemId: DECIDED, token: 'the-run-token', answer: ALLOW }]);
    expect(appended).toEqual([
      {
        event: 'approval.resolved',
        data: { approvalId: DECIDED, decision: 'allow', reason: 'client' },
      },
    ]);
    expect(paused()).toBe(0);
  });

  it('times a pending item out from when it was asked, not from when the run was carried on', async () => {
    const { state, clock, items, delivered } = carrier();
    await state.putApproval(record(PENDING, 10_000 - 50_000), 60_000);
    await items.restore({ requested: new Set([PENDING]), resolved: new Set() });
    clock.advance(9_999);
    expect(delivered).toEqual([]);
    await clock.advanceAsync(1);
    expect(delivered.map((d) => d.answer)).toEqual([
      { kind: 'decision', decision: 'deny', reason: 'timeout' },
    ]);
    expect((await state.getApproval('conv_1', PENDING))?.settlement?.answer).toEqual({
      kind: 'decision',
      decision: 'deny',
      reason: 'timeout',
    });
  });
});

describe('what a carried-on run knows of its items', () => {
  it('reads the requested and resolved ids from the run log', () => {
    const log: BufferedEvent[] = [
      { seq: 1, event: 'run.started', data: '{}' },
      { seq: 2, event: 'approval.requested', data: JSON.stringify({ approvalId: 'apr_1' }) },
      { seq: 3, event: 'approval.resolved', data: JSON.stringify({ approvalId: 'apr_1' }) },
      { seq: 4, event: 'tool.requested', data: JSON.stringify({ callId: 'call_1' }) },
    ];
    const { requested, resolved } = loggedItems(log);
    expect([...requested].sort()).toEqual(['apr_1', 'call_1']);
    expect([...resolved]).toEqual(['apr_1']);
  });

  it('counts the time spent waiting once, however the waits overlap, and only for the run', () => {
    const at = (id: string, from: number, to: number | null, runId = 'run_1') => ({
      record: record(id, from, runId),
      settlement:
        to === null
          ? null
          : { status: 'allowed' as const, reason: 'client' as const, message: null, decidedAt: to },
    });
    const items = [
      at('a', 100, 300),
      at('b', 200, 400),
      at('c', 1_000, null),
      at('d', 0, 5_000, 'run_2'),
    ];
    expect(waitedMs(items, 'run_1', 1_500)).toBe(300 + 500);
  });
});
