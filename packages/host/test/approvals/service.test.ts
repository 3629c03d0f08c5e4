import { WorkcellError } from '@workcell/protocol';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ApprovalService } from '../../src/approvals/index.js';
import type { ConversationRecord, RunRecord } from '../../src/catalog/catalog.js';
import { LocalControlBus } from '../../src/control/control-bus.js';
import type { ControlMessage } from '../../src/control/messages.js';
import { MemoryStateStore } from '../../src/state/memory-store.js';
import type { ApprovalRecord } from '../../src/state/state-store.js';
import { ManualClock } from '../../src/time/clock.js';

const logger = pino({ level: 'silent' });

function setup(runStatus: RunRecord['status']) {
  const state = new MemoryStateStore();
  const clock = new ManualClock(1_000);
  const run: RunRecord = {
    id: 'run_1',
    conversationId: 'conv_1',
    status: runStatus,
    startedAt: new Date(0).toISOString(),
    endedAt: null,
    interrupted: false,
    error: null,
    summary: null,
    eventCount: 0,
  };
  const conversation: ConversationRecord = {
    id: 'conv_1',
    workspaceId: 'ws_1',
    tenant: 'tenant-a',
    title: 't',
    createdAt: new Date(0).toISOString(),
    sessionId: null,
    runs: [run],
  };
  const catalog = {
    getConversation: async (tenant: string, id: string): Promise<ConversationRecord> => {
      if (tenant !== conversation.tenant || id !== conversation.id)
        throw new WorkcellError('not_found', 'no such conversation');
      return conversation;
    },
  };
  const bus = new LocalControlBus('host-b', logger);
  const heard: ControlMessage[] = [];
  bus.subscribe((m) => {
    heard.push(m);
  });
  const service = new ApprovalService({
    state,
    catalog,
    bus,
    clock,
    logger,
    hostId: 'host-b',
    settings: { timeoutMs: 60_000, recordTtlMs: 120_000 },
  });
  const record: ApprovalRecord = {
    id: 'apr_aaaaaaaaaaaaaaaaaaaaaaaa',
    kind: 'approval',
    tenant: 'tenant-a',
    workspaceId: 'ws_1',
    conversationId: 'conv_1',
    runId: 'run_1',
    hostId: 'host-a',
    toolUseId: 'toolu_1',
    toolName: 'Bash',
    input: { command: 'ls' },
    inputSchema: null,
    createdAt: 1_000,
  };
  return { state, service, record, heard };
}

describe('approvals decided on a host that does not hold the run', () => {
  it('settles the decision and sends it over the control bus to the host holding the run', async () => {
    const { state, service, record, heard } = setup('running');
    await state.putApproval(record, 60_000);
    const decided = await service.decide('tenant-a', 'conv_1', record.id, {
      decision: 'allow',
      updatedInput: { command: 'pwd' },
    });
    expect(decided).toMatchObject({ status: 'allowed', reason: 'client' });
    expect(heard).toEqual([
      {
        type: 'answer',
        from: 'host-b',
        runId: 'run_1',
        itemId: record.id,
        answer: {
          kind: 'decision',
          decision: 'allow',
          reason: 'client',
          updatedInput: { command: 'pwd' },
        },
      },
    ]);
    await expect(
      service.decide('tenant-a', 'conv_1', record.id, { decision: 'deny' }),
    ).rejects.toMatchObject({ code: 'approval_decided' });
    expect(heard).toHaveLength(1);
  });

  it('refuses an updatedInput that does not fit the tool and records nothing', async () => {
    const { state, service, record, heard } = setup('running');
    await state.putApproval(record, 60_000);
    await expect(
      service.decide('tenant-a', 'conv_1', record.id, {
        decision: 'allow',
        updatedInput: { command: 7 },
      }),
    ).rejects.toMatchObject({ code: 'validation_failed' });
    expect((await state.getApproval('conv_1', record.id))?.settlement).toBeNull();
    expect(heard).toEqual([]);
  });

  it('shows an item whose run ended without settling it (its host died) as denied, and refuses a decision', async () => {
    const { state, service, record, heard } = setup('failed');
    await state.putApproval(record, 60_000);
    const page = await service.list('tenant-a', 'conv_1', { after: null, limit: 10 });
    expect(page.approvals).toEqual([
      expect.objectContaining({ id: record.id, status: 'denied', reason: 'interrupt' }),
    ]);
    await expect(
      service.decide('tenant-a', 'conv_1', record.id, { decision: 'allow' }),
    ).rejects.toMatchObject({ code: 'approval_decided' });
    expect(heard).toEqual([]);
  });

  it("answers another tenant's item as not found", async () => {
    const { state, service, record } = setup('running');
    await state.putApproval(record, 60_000);
    await expect(
      service.decide('tenant-b', 'conv_1', record.id, { decision: 'allow' }),
    ).rejects.toMatchObject({ code: 'not_found' });
    await expect(
      service.sendResult('tenant-a', 'conv_1', record.id, { content: 'x' }),
    ).rejects.toMatchObject({ code: 'not_found' });
  });
});
