import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { PermissionResult, SdkMcpToolDefinition } from '@anthropic-ai/claude-agent-sdk';
import type { AgentAnswer, AgentEvent, ContentBlock, ResolutionReason } from '@workcell/protocol';

/** What a client tool's handler answers the SDK (the MCP `CallToolResult`). */
export type ToolCallResult = Awaited<ReturnType<SdkMcpToolDefinition['handler']>>;

/** The events a gate emits beside the SDK's messages. */
export type GateEvent = Extract<
  AgentEvent,
  { type: 'approval.requested' | 'approval.resolved' | 'tool.requested' | 'tool.resolved' }
>;

/** What `answer` did with an answer. */
export type AnswerOutcome = 'accepted' | 'unknown' | 'answered' | 'mismatch';

interface Waiting {
  kind: 'decision' | 'result';
  settle: (answer: AgentAnswer) => void;
}

/** The message a denied call's model sees when the client gave none. */
const DENIED_TEXT: Record<ResolutionReason, string> = {
  client: 'The user denied this tool call.',
  timeout: 'Nobody decided on this tool call in time; it was denied.',
  interrupt: 'The run was interrupted; this tool call did not run.',
};

function newId(prefix: 'apr' | 'call'): string {
  return `${prefix}_${randomBytes(18).toString('base64url').replace(/[-_]/g, 'x')}`;
}

/**
 * One run's pending approvals and client tool calls. A call that must wait is announced as an
 * event (`approval.requested`, `tool.requested`) and waits until the host delivers an answer
 * (`answer`, accepted only with the run's control token), the run is interrupted, or the SDK
 * aborts the call; then `approval.resolved` / `tool.resolved` follows.
 */
export class RunGate {
  private readonly waiting = new Map<string, Waiting>();
  /** Ids answered already, so a repeated answer is told apart from an unknown id. */
  private readonly settled = new Set<string>();
  private readonly queue: GateEvent[] = [];
  private wake: (() => void) | null = null;
  private closed = false;

  constructor(private readonly controlToken: string | null) {}

  /** Whether `token` is this run's control token (constant time; no token: never). */
  authorises(token: string | undefined): boolean {
    if (!this.controlToken || !token) return false;
    const a = Buffer.from(this.controlToken);
    const b = Buffer.from(token);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  /** Asks the client whether a tool call may run; answers the SDK's permission result. */
  async approve(
    toolName: string,
    input: Record<string, unknown>,
    toolUseId: string | null,
    signal: AbortSignal,
  ): Promise<PermissionResult> {
    const approvalId = newId('apr');
    const answer = await this.wait(
      approvalId,
      'decision',
      { type: 'approval.requested', approvalId, toolUseId, toolName, input },
      signal,
    );
    if (answer.kind !== 'decision') throw new Error('unreachable: a decision was awaited');
    this.emit({
      type: 'approval.resolved',
      approvalId,
      decision: answer.decision,
      reason: answer.reason,
    });
    if (answer.decision === 'allow')
      return { behavior: 'allow', updatedInput: answer.updatedInput ?? input };
    return {
      behavior: 'deny',
      message: answer.message ?? DENIED_TEXT[answer.reason],
      ...(answer.reason === 'interrupt' ? { interrupt: true } : {}),
    };
  }

  /** Runs a client tool: announces the call and answers the SDK with the client's result. */
  async callClientTool(
    name: string,
    input: Record<string, unknown>,
    signal: AbortSignal,
  ): Promise<ToolCallResult> {
    const callId = newId('call');
    const answer = await this.wait(
      callId,
      'result',
      { type: 'tool.requested', callId, name, input },
      signal,
    );
    if (answer.kind !== 'result') throw new Error('unreachable: a result was awaited');
    this.emit({ type: 'tool.resolved', callId, isError: answer.isError, reason: answer.reason });
    return { content: toolContent(answer.content), isError: answer.isError };
  }

  /** Delivers the host's answer to a waiting item. */
  answer(itemId: string, answer: AgentAnswer): AnswerOutcome {
    const waiting = this.waiting.get(itemId);
    if (!waiting) return this.settled.has(itemId) ? 'answered' : 'unknown';
    if (waiting.kind !== answer.kind) return 'mismatch';
    waiting.settle(answer);
    return 'accepted';
  }

  /** Denies every waiting approval and fails every waiting tool call with reason `interrupt`. */
  interruptAll(): void {
    for (const [id, waiting] of [...this.waiting]) {
      this.waiting.delete(id);
      waiting.settle(interruptAnswer(waiting.kind));
    }
  }

  /** Whether anything waits for an answer. */
  get pending(): number {
    return this.waiting.size;
  }

  /** The events emitted since the last call. */
  drain(): GateEvent[] {
    return this.queue.splice(0);
  }

  /** Resolves when an event is queued (at once when one is) or the gate closes. */
  whenEvent(): Promise<void> {
    if (this.queue.length > 0 || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.wake = resolve;
    });
  }

  /** The run is over: whatever still waits is interrupted. */
  close(): void {
    this.interruptAll();
    this.closed = true;
    this.wake?.();
  }

  private wait(
    id: string,
    kind: Waiting['kind'],
    announce: GateEvent,
    signal: AbortSignal,
  ): Promise<AgentAnswer> {
    if (this.closed || signal.aborted) return Promise.resolve(interruptAnswer(kind));
    return new Promise<AgentAnswer>((resolve) => {
      const onAbort = (): void => {
        if (this.waiting.delete(id)) {
          this.settled.add(id);
          resolve(interruptAnswer(kind));
        }
      };
      this.waiting.set(id, {
        kind,
        settle: (answer) => {
          this.waiting.delete(id);
          this.settled.add(id);
          signal.removeEventListener('abort', onAbort);
          resolve(answer);
        },
      });
      signal.addEventListener('abort', onAbort, { once: true });
      this.emit(announce);
    });
  }

  private emit(event: GateEvent): void {
    this.queue.push(event);
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }
}

function interruptAnswer(kind: Waiting['kind']): AgentAnswer {
  return kind === 'decision'
    ? { kind: 'decision', decision: 'deny', reason: 'interrupt' }
    : {
        kind: 'result',
        reason: 'interrupt',
        isError: true,
        content: 'The run was interrupted before the client answered this tool call.',
      };
}

/** A client's result as MCP content: text blocks as text, base64 images as images. */
function toolContent(content: string | readonly ContentBlock[]): ToolCallResult['content'] {
  if (typeof content === 'string') return [{ type: 'text', text: content }];
  return content.map((block) =>
    block.type === 'text'
      ? { type: 'text' as const, text: block.text }
      : { type: 'image' as const, data: block.source.data, mimeType: block.source.media_type },
  );
}
