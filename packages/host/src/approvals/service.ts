import {
  WorkcellError,
  type AgentAnswer,
  type Approval,
  type ApprovalDecisionBody,
  type ToolResultBody,
} from '@workcell/protocol';
import type { Logger } from 'pino';
import type { Catalog, ConversationRecord } from '../catalog/catalog.js';
import { creationKey, nextCursor, pageOf, type PageRequest } from '../catalog/page.js';
import type { ControlBus } from '../control/control-bus.js';
import type { ControlMessage } from '../control/messages.js';
import type { ApprovalSettlement, StateStore, StoredApproval } from '../state/state-store.js';
import type { Clock } from '../time/clock.js';
import type { WebhookEvents } from '../webhooks/publisher.js';
import { checkUpdatedInput } from './input-check.js';
import { RunItems, type RunItemsLink } from './run-items.js';
import type { ApprovalSettings } from './settings.js';
import { approvalView } from './view.js';

/**
 * Approvals and client tool calls. On the host holding a run, `attach` gives the run its
 * `RunItems` (records what the agent asks, times it out, delivers answers). On any host, the
 * API lists a conversation's items and takes decisions and results: each is checked against
 * its tenant and conversation, settled once in the state store (so of two deciders on any
 * hosts one wins), then delivered to the host holding the run: at once when that is this
 * host, else over the control bus.
 */
export class ApprovalService {
  /** Items of runs on this host, by id. */
  private readonly local = new Map<string, RunItems>();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly deps: {
      state: StateStore;
      catalog: Pick<Catalog, 'getConversation'>;
      bus: ControlBus;
      clock: Clock;
      logger: Logger;
      hostId: string;
      webhooks?: WebhookEvents;
      settings: ApprovalSettings;
    },
  ) {
    this.unsubscribe = deps.bus.subscribe(this.onControl);
  }

  /** The approvals of one run on this host; `close` it when the agent's stream ends. */
  attach(link: RunItemsLink): RunItems {
    return new RunItems(link, {
      ...this.deps,
      register: (id, items) => this.local.set(id, items),
      unregister: (id) => this.local.delete(id),
    });
  }

  /** A conversation's approvals and client tool calls, oldest first, a page at a time. */
  async list(
    tenant: string,
    conversationId: string,
    page: PageRequest,
  ): Promise<{ approvals: Approval[]; nextCursor: string | null }> {
    const conversation = await this.deps.catalog.getConversation(tenant, conversationId);
    const stored = (await this.deps.state.listApprovals(conversationId)).filter(
      (i) => i.record.tenant === tenant,
    );
    const items: Approval[] = [];
    for (const item of stored) items.push(approvalView(await this.orphaned(conversation, item)));
    const result = pageOf(items, (a) => creationKey(a.createdAt, a.id), page);
    return { approvals: result.items, nextCursor: nextCursor('approvals', result) };
  }

  /** Decides an approval: 200 with the approval, 409 `approval_decided`, 404, 400. */
  async decide(
    tenant: string,
    conversationId: string,
    approvalId: string,
    body: ApprovalDecisionBody,
  ): Promise<Approval> {
    const stored = await this.find(tenant, conversationId, approvalId, 'approval');
    if (stored.settlement) throw decided('approval_decided', approvalId);
    if (body.updatedInput) {
      const why = checkUpdatedInput(stored.record, body.updatedInput);
      if (why) throw new WorkcellError('validation_failed', `updatedInput: ${why}`);
    }
    const answer: AgentAnswer = {
      kind: 'decision',
      decision: body.decision,
      reason: 'client',
      ...(body.message ? { message: body.message } : {}),
      ...(body.updatedInput ? { updatedInput: body.updatedInput } : {}),
    };
    const settlement: ApprovalSettlement = {
      status: body.decision === 'allow' ? 'allowed' : 'denied',
      reason: 'client',
      message: body.message ?? null,
      decidedAt: this.deps.clock.now(),
      answer,
    };
    await this.settle(stored, settlement, 'approval_decided');
    await this.route(stored, answer);
    return approvalView({ record: stored.record, settlement });
  }

  /** Delivers a client tool call's result: 200, 409 `tool_call_answered`, 404, 400. */
  async sendResult(
    tenant: string,
    conversationId: string,
    callId: string,
    body: ToolResultBody,
  ): Promise<Approval> {
    const stored = await this.find(tenant, conversationId, callId, 'tool');
    if (stored.settlement) throw decided('tool_call_answered', callId);
    const isError = body.isError ?? false;
    const answer: AgentAnswer = {
      kind: 'result',
      reason: 'client',
      content: body.content,
      isError,
    };
    const settlement: ApprovalSettlement = {
      status: isError ? 'denied' : 'allowed',
      reason: 'client',
      message: null,
      decidedAt: this.deps.clock.now(),
      answer,
    };
    await this.settle(stored, settlement, 'tool_call_answered');
    await this.route(stored, answer);
    return approvalView({ record: stored.record, settlement });
  }

  close(): void {
    this.unsubscribe();
  }

  private async find(
    tenant: string,
    conversationId: string,
    id: string,
    kind: 'approval' | 'tool',
  ): Promise<StoredApproval> {
    // Another tenant's conversation is not found, as every other route answers it.
    const conversation = await this.deps.catalog.getConversation(tenant, conversationId);
    const stored = await this.deps.state.getApproval(conversationId, id);
    if (!stored || stored.record.tenant !== tenant || stored.record.kind !== kind)
      throw new WorkcellError(
        'not_found',
        `no ${kind === 'approval' ? 'approval' : 'tool call'} ${id} in this conversation`,
      );
    return this.orphaned(conversation, stored);
  }

  /**
   * An item still pending whose run has ended without settling it (its host died) is denied
   * with reason `interrupt` when it is next read: nobody can answer it any more.
   */
  private async orphaned(
    conversation: ConversationRecord,
    item: StoredApproval,
  ): Promise<StoredApproval> {
    if (item.settlement) return item;
    const run = conversation.runs.find((r) => r.id === item.record.runId);
    if (run?.status === 'running') return item;
    const settlement: ApprovalSettlement = {
      status: 'denied',
      reason: 'interrupt',
      message: null,
      decidedAt: this.deps.clock.now(),
    };
    await this.deps.state.settleApproval(item.record.conversationId, item.record.id, settlement);
    const now = await this.deps.state.getApproval(item.record.conversationId, item.record.id);
    return now ?? { ...item, settlement };
  }

  private async settle(
    stored: StoredApproval,
    settlement: ApprovalSettlement,
    code: 'approval_decided' | 'tool_call_answered',
  ): Promise<void> {
    const { record } = stored;
    const result = await this.deps.state.settleApproval(
      record.conversationId,
      record.id,
      settlement,
    );
    if (result === 'already') throw decided(code, record.id);
    if (result === 'missing') throw new WorkcellError('not_found', `no item ${record.id}`);
  }

  /**
   * Hands a settled answer to the host holding the run: this one, or a peer over the control
   * bus. When no host holds the run at this moment (it is being handed over or its host died),
   * the answer kept with the settlement is delivered by the host that carries the run on.
   */
  private async route(stored: StoredApproval, answer: AgentAnswer): Promise<void> {
    const { record } = stored;
    const items = this.local.get(record.id);
    if (items) {
      await items.deliver(record.id, answer);
      return;
    }
    await this.deps.bus.publish({
      type: 'answer',
      runId: record.runId,
      itemId: record.id,
      answer,
    });
  }

  private readonly onControl = async (message: ControlMessage): Promise<void> => {
    if (message.type !== 'answer') return;
    const items = this.local.get(message.itemId);
    if (!items || items.runId !== message.runId) return;
    this.deps.logger.info(
      { runId: message.runId, itemId: message.itemId, from: message.from },
      'answer delivered for a peer',
    );
    await items.deliver(message.itemId, message.answer);
  };
}

function decided(code: 'approval_decided' | 'tool_call_answered', id: string): WorkcellError {
  return new WorkcellError(
    code,
    code === 'approval_decided'
      ? `approval ${id} is already decided`
      : `tool call ${id} already has a result`,
  );
}
