import { randomBytes } from 'node:crypto';
import {
  ITEM_ID,
  clientToolQualifiedName,
  type AgentAnswer,
  type AgentEvent,
  type ClientTool,
} from '@workcell/protocol';
import type { Logger } from 'pino';
import type {
  ApprovalRecord,
  ApprovalSettlement,
  StateStore,
  StoredApproval,
} from '../state/state-store.js';
import type { Clock, Timer } from '../time/clock.js';
import type { WebhookEvents } from '../webhooks/publisher.js';
import type { ApprovalSettings } from './settings.js';

/** An agent event about an approval or a client tool call. */
export type AgentItemEvent = Extract<
  AgentEvent,
  { type: 'approval.requested' | 'approval.resolved' | 'tool.requested' | 'tool.resolved' }
>;

/** What a run lends its approvals: who it is, how to reach its agent, its log and its clock. */
export interface RunItemsLink {
  runId: string;
  tenant: string;
  workspaceId: string;
  conversationId: string;
  /** The client tools the run offers (their schemas check `updatedInput`). */
  clientTools: readonly ClientTool[];
  /** The run's control token when it is carried on (a new run gets a new one). */
  controlToken?: string;
  /** Delivers an answer to the agent with the run's control token. */
  deliver(
    itemId: string,
    controlToken: string,
    answer: AgentAnswer,
  ): Promise<'accepted' | 'answered' | 'unknown'>;
  /** Records one of the run's events. */
  append(
    event: 'approval.requested' | 'approval.resolved' | 'tool.requested' | 'tool.resolved',
    data: unknown,
  ): void;
  /** The run's timeout stops counting (nested with `resume`). */
  pause(): void;
  resume(): void;
}

interface Deps {
  state: StateStore;
  clock: Clock;
  logger: Logger;
  hostId: string;
  webhooks?: WebhookEvents;
  settings: ApprovalSettings;
  register(id: string, items: RunItems): void;
  unregister(id: string): void;
}

interface Waiting {
  record: ApprovalRecord;
  timer: Timer;
}

/** The text a client tool's model sees when nobody answered in time. */
const TOOL_TIMEOUT_TEXT = 'The client did not answer this tool call in time.';

/**
 * One run's approvals and client tool calls on the host holding the run. What the agent asks
 * is recorded (pending) before the run's stream shows it, so a client that sees the event can
 * decide at once; while anything waits the run's timeout is paused; an item nobody answers is
 * denied after `WORKCELL_APPROVAL_TIMEOUT_MS`; when the agent's stream ends, what still waits is
 * denied with reason `interrupt`. The agent is untrusted: it may report an item ended by an
 * interrupt, never decided by a client; a client's or the timeout's settlement is made here.
 */
export class RunItems {
  /** The run's control token: the agent accepts answers only with it. */
  readonly controlToken: string;
  private readonly waiting = new Map<string, Waiting>();
  /** Items the run's log has announced: the agent's stream read again does not announce them twice. */
  private readonly announced = new Set<string>();
  private readonly log: Logger;

  constructor(
    private readonly link: RunItemsLink,
    private readonly deps: Deps,
  ) {
    this.controlToken = link.controlToken ?? randomBytes(32).toString('base64url');
    this.log = deps.logger.child({ runId: link.runId, component: 'approvals' });
  }

  get runId(): string {
    return this.link.runId;
  }

  /** Acts on one approval or client-tool event of the agent's stream. */
  async onEvent(event: AgentItemEvent): Promise<void> {
    switch (event.type) {
      case 'approval.requested':
        await this.opened(
          event.approvalId,
          'approval',
          event.toolName,
          event.input,
          event.toolUseId,
        );
        return;
      case 'tool.requested':
        await this.opened(event.callId, 'tool', event.name, event.input, null);
        return;
      case 'approval.resolved':
      case 'tool.resolved':
        await this.resolvedByAgent(event);
        return;
    }
  }

  /** Delivers an answer already settled in the state store to the agent. */
  async deliver(itemId: string, answer: AgentAnswer): Promise<void> {
    let result: 'accepted' | 'answered' | 'unknown';
    try {
      result = await this.link.deliver(itemId, this.controlToken, answer);
    } catch (err) {
      this.log.error({ err, itemId }, 'the answer could not be delivered to the agent');
      return;
    }
    if (result !== 'accepted')
      this.log.warn({ itemId, result }, 'the agent did not take the answer');
    const waiting = this.waiting.get(itemId);
    if (!waiting) return;
    this.forget(itemId, waiting);
    this.appendResolved(waiting.record, answer);
  }

  /** The agent's stream ended: whatever still waits is denied with reason `interrupt`. */
  async close(): Promise<void> {
    for (const [id, waiting] of [...this.waiting]) {
      this.forget(id, waiting);
      await this.settleQuietly(waiting.record, {
        status: 'denied',
        reason: 'interrupt',
        message: null,
        decidedAt: this.deps.clock.now(),
      });
      this.appendResolved(waiting.record, interruptAnswer(waiting.record.kind));
    }
  }

  /**
   * Takes over the items of a run carried on from a host that went away (`logged`: the item
   * ids its log holds as requested and as resolved). What the log announced is not announced
   * again; what still waits is waited for here, its timeout counting from when it was asked;
   * an answer settled while no host held the run (kept with its settlement) is delivered now.
   */
  async restore(logged: {
    requested: ReadonlySet<string>;
    resolved: ReadonlySet<string>;
  }): Promise<void> {
    const { state } = this.deps;
    const { conversationId, runId } = this.link;
    const mine = async (): Promise<StoredApproval[]> =>
      (await state.listApprovals(conversationId)).filter((i) => i.record.runId === runId);
    for (const id of logged.requested) this.announced.add(id);
    for (const { record } of await mine()) {
      if (logged.resolved.has(record.id) || this.waiting.has(record.id)) continue;
      if (!logged.requested.has(record.id)) this.announce(record);
      this.wait(record);
    }
    // Registered first, read again: an answer settled in between is delivered here, one
    // settled from now on reaches this host over the control bus.
    for (const { record, settlement } of await mine()) {
      if (!settlement || !this.waiting.has(record.id)) continue;
      await this.deliver(record.id, settlement.answer ?? interruptAnswer(record.kind));
    }
    this.log.info({ waiting: this.waiting.size }, 'items of the run taken over');
  }

  /**
   * This host lets the run go (it is handed over): its items stop being answered here, their
   * timers stop, and nothing is settled; they stay pending in the state store for the host
   * that carries the run on.
   */
  detach(): void {
    for (const [id, waiting] of [...this.waiting]) {
      waiting.timer.cancel();
      this.waiting.delete(id);
      this.deps.unregister(id);
    }
  }

  private async opened(
    id: string,
    kind: ApprovalRecord['kind'],
    toolName: string,
    input: Record<string, unknown>,
    toolUseId: string | null,
  ): Promise<void> {
    const { link } = this;
    // The agent's stream read again from its start by a host carrying the run on.
    if (this.announced.has(id)) return;
    if (!ITEM_ID.test(id) || this.waiting.has(id)) {
      this.log.warn({ id }, 'the agent named an item with an id it may not use; ignored');
      return;
    }
    const record: ApprovalRecord = {
      id,
      kind,
      tenant: link.tenant,
      workspaceId: link.workspaceId,
      conversationId: link.conversationId,
      runId: link.runId,
      hostId: this.deps.hostId,
      toolUseId,
      toolName,
      input,
      inputSchema: this.schemaOf(kind, toolName),
      createdAt: this.deps.clock.now(),
    };
    try {
      await this.deps.state.putApproval(record, this.deps.settings.recordTtlMs);
    } catch (err) {
      // Nobody could decide an item that is not recorded: the call is refused at once.
      this.log.error({ err, id }, 'the item could not be recorded; refusing the call');
      await this.link
        .deliver(id, this.controlToken, interruptAnswer(kind))
        .catch((e: unknown) => this.log.error({ err: e, id }, 'refusing the call failed'));
      return;
    }
    this.wait(record);
    this.announce(record);
    if (kind === 'approval') {
      await this.deps.webhooks
        ?.publish(link.tenant, 'approval.requested', {
          workspaceId: link.workspaceId,
          conversationId: link.conversationId,
          runId: link.runId,
          approvalId: id,
          toolUseId,
          toolName,
          input,
        })
        .catch((err: unknown) =>
          this.log.error(
            { err, id },
            'approval.requested could not be put into the webhook outbox',
          ),
        );
    }
    this.log.info({ id, kind, toolName }, 'waiting for the client');
  }

  /** Waits for an item's answer: registered for answers, the run's timeout paused, its own running. */
  private wait(record: ApprovalRecord): void {
    const { clock, settings } = this.deps;
    this.deps.register(record.id, this);
    this.link.pause();
    const left = Math.max(0, settings.timeoutMs - (clock.now() - record.createdAt));
    const timer = clock.after(left, () => {
      void this.expire(record.id);
    });
    this.waiting.set(record.id, { record, timer });
  }

  /** Records an item's request in the run's log. */
  private announce(record: ApprovalRecord): void {
    this.announced.add(record.id);
    if (record.kind === 'approval')
      this.link.append('approval.requested', {
        approvalId: record.id,
        toolUseId: record.toolUseId,
        toolName: record.toolName,
        input: record.input,
      });
    else
      this.link.append('tool.requested', {
        callId: record.id,
        name: record.toolName,
        input: record.input,
      });
  }

  /**
   * The agent says an item ended. Only an interrupt is the agent's to report; a client's
   * decision or a timeout was settled (and its event recorded) by this host when it delivered it.
   */
  private async resolvedByAgent(
    event: Extract<AgentItemEvent, { type: 'approval.resolved' | 'tool.resolved' }>,
  ): Promise<void> {
    const id = event.type === 'approval.resolved' ? event.approvalId : event.callId;
    const waiting = this.waiting.get(id);
    if (!waiting) return;
    if (event.reason !== 'interrupt') {
      this.log.warn(
        { id, reason: event.reason },
        'the agent reported an answer this host did not give; ignored',
      );
      return;
    }
    this.forget(id, waiting);
    await this.settleQuietly(waiting.record, {
      status: 'denied',
      reason: 'interrupt',
      message: null,
      decidedAt: this.deps.clock.now(),
    });
    this.appendResolved(waiting.record, interruptAnswer(waiting.record.kind));
  }

  private async expire(id: string): Promise<void> {
    const waiting = this.waiting.get(id);
    if (!waiting) return;
    const answer: AgentAnswer =
      waiting.record.kind === 'approval'
        ? { kind: 'decision', decision: 'deny', reason: 'timeout' }
        : { kind: 'result', reason: 'timeout', isError: true, content: TOOL_TIMEOUT_TEXT };
    const result = await this.settleQuietly(waiting.record, {
      status: 'denied',
      reason: 'timeout',
      message: null,
      decidedAt: this.deps.clock.now(),
      answer,
    });
    // A client's decision that won the race is being delivered; it ends the wait.
    if (result !== 'settled') return;
    this.log.info({ id }, 'nobody answered in time; denied');
    await this.deliver(id, answer);
  }

  private forget(id: string, waiting: Waiting): void {
    waiting.timer.cancel();
    this.waiting.delete(id);
    this.deps.unregister(id);
    this.link.resume();
  }

  private appendResolved(record: ApprovalRecord, answer: AgentAnswer): void {
    if (answer.kind === 'decision')
      this.link.append('approval.resolved', {
        approvalId: record.id,
        decision: answer.decision,
        reason: answer.reason,
      });
    else
      this.link.append('tool.resolved', {
        callId: record.id,
        isError: answer.isError,
        reason: answer.reason,
      });
  }

  private async settleQuietly(
    record: ApprovalRecord,
    settlement: ApprovalSettlement,
  ): Promise<'settled' | 'already' | 'missing' | 'failed'> {
    try {
      return await this.deps.state.settleApproval(record.conversationId, record.id, settlement);
    } catch (err) {
      this.log.error({ err, id: record.id }, 'the item could not be settled');
      return 'failed';
    }
  }

  private schemaOf(kind: ApprovalRecord['kind'], toolName: string): Record<string, unknown> | null {
    const tool = this.link.clientTools.find((t) =>
      kind === 'tool' ? t.name === toolName : clientToolQualifiedName(t.name) === toolName,
    );
    return tool?.inputSchema ?? null;
  }
}

function interruptAnswer(kind: ApprovalRecord['kind']): AgentAnswer {
  return kind === 'approval'
    ? { kind: 'decision', decision: 'deny', reason: 'interrupt' }
    : {
        kind: 'result',
        reason: 'interrupt',
        isError: true,
        content: 'The run ended before the client answered this tool call.',
      };
}
