import { toToolsetInput, toolsetNameOf, type RunSummary } from '@workcell/protocol';

/** One Managed Agents session event as the SDK's `BetaManagedAgentsSessionEvent` types it. */
export type SessionEvent = { id: string; type: string; processed_at: string | null } & Record<
  string,
  unknown
>;

/** One recorded event of a Workcell run, its data parsed. */
export interface RunEventInput {
  seq: number;
  event: string;
  data: unknown;
}

/** What a translation needs to know of the run. */
export interface RunMeta {
  runId: string;
  startedAt: string;
  /** When the run ended (for the terminal events); the time of translation when unknown. */
  endedAt: () => string;
  /** How the agent's policy treats a tool (by the name the model calls it); allow when absent. */
  permissionOf?: (toolName: string) => 'allow' | 'ask';
}

/** What a session event waiting for the user stands for in the engine. */
export type PendingAction =
  { kind: 'approval'; approvalId: string } | { kind: 'tool'; callId: string };

type Block = { type: string } & Record<string, unknown>;
type Usage = {
  input_tokens?: number;
  output_tokens?: number;
  cache_creation_input_tokens?: number;
  cache_read_input_tokens?: number;
};

/** The MCP server name Workcell's engine gives client tools (custom tools). */
export const CLIENT_TOOLS_SERVER = 'workcell_client';

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Tool result content in the event shape: text and image blocks. */
function resultContent(content: unknown): Block[] {
  if (typeof content === 'string') return content ? [{ type: 'text', text: content }] : [];
  if (!Array.isArray(content)) return [];
  return content
    .filter(isRecord)
    .map((b) =>
      b.type === 'text' || b.type === 'image'
        ? (b as Block)
        : { type: 'text', text: JSON.stringify(b) },
    );
}

function spanUsage(usage: Usage | undefined): Record<string, number> {
  return {
    input_tokens: usage?.input_tokens ?? 0,
    output_tokens: usage?.output_tokens ?? 0,
    cache_creation_input_tokens: usage?.cache_creation_input_tokens ?? 0,
    cache_read_input_tokens: usage?.cache_read_input_tokens ?? 0,
  };
}

/**
 * Turns one Workcell run's events (`run.started`, `message` with the Claude Agent SDK's
 * messages, `run.completed` / `run.failed`) into Managed Agents events, in order. Ids are derived
 * from the run id and the event's sequence number, so the live stream and the history agree.
 *
 * | Workcell                                  | Managed Agents                                          |
 * |-------------------------------------------|---------------------------------------------------------|
 * | `run.started`                             | `session.status_running`                                |
 * | first assistant message of a model reply  | `span.model_request_start`                              |
 * | assistant `thinking` block                | `agent.thinking`                                        |
 * | assistant `text` blocks                   | `agent.message` (one per message)                       |
 * | assistant `tool_use` of a toolset tool    | `agent.tool_use` (Anthropic's name and input)           |
 * | assistant `tool_use` `mcp__<server>__<t>` | `agent.mcp_tool_use` (`agent.custom_tool_use` for client tools) |
 * | user `tool_result`                        | `agent.tool_result` / `agent.mcp_tool_result`           |
 * | end of a model reply                      | `span.model_request_end` with its usage                 |
 * | `run.completed`                           | `session.status_idle` (`end_turn`)                      |
 * | `run.failed`                              | `session.error`, `session.status_idle` (`retries_exhausted`) |
 */
export class RunTranslator {
  private readonly tools = new Map<string, { eventId: string; kind: 'tool' | 'mcp' | 'custom' }>();
  /** Custom tool uses not yet matched with the engine's call, in order. */
  private readonly customUses: { eventId: string; name: string }[] = [];
  /** Session events waiting for the user (tool use event id -> the engine's item), while they wait. */
  readonly pending = new Map<string, PendingAction>();
  private openSpan: { id: string; messageId: string; usage: Usage | undefined } | null = null;
  /** Usage of the run's model replies, summed. */
  readonly usage = {
    input_tokens: 0,
    output_tokens: 0,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
  };

  constructor(private readonly meta: RunMeta) {}

  private id(seq: number, k: number): string {
    const run = this.meta.runId.replace(/^run_/, '');
    return `sevt_${run}${seq.toString(36).padStart(5, '0')}${k.toString(36).padStart(2, '0')}`;
  }

  private closeSpan(out: SessionEvent[], seq: number, k: () => number): void {
    if (!this.openSpan) return;
    const usage = spanUsage(this.openSpan.usage);
    for (const key of Object.keys(this.usage) as (keyof typeof this.usage)[])
      this.usage[key] += usage[key] ?? 0;
    out.push({
      id: this.id(seq, k()),
      type: 'span.model_request_end',
      processed_at: this.meta.startedAt,
      model_request_start_id: this.openSpan.id,
      is_error: false,
      model_usage: usage,
    });
    this.openSpan = null;
  }

  /** The Managed Agents events of one run event. */
  push(event: RunEventInput): SessionEvent[] {
    const out: SessionEvent[] = [];
    let n = 0;
    const k = (): number => n++;
    const at = this.meta.startedAt;
    const { seq } = event;
    if (event.event === 'run.started') {
      out.push({ id: this.id(seq, k()), type: 'session.status_running', processed_at: at });
      return out;
    }
    if (event.event === 'run.completed' || event.event === 'run.failed') {
      this.closeSpan(out, seq, k);
      const end = this.meta.endedAt();
      if (event.event === 'run.failed') {
        const err = isRecord(event.data) ? event.data : {};
        out.push({
          id: this.id(seq, k()),
          type: 'session.error',
          processed_at: end,
          error: {
            type: 'unknown_error',
            message: `${String(err.code ?? 'error')}: ${String(err.message ?? '')}`,
            retry_status: { type: 'terminal' },
          },
        });
      }
      out.push({
        id: this.id(seq, k()),
        type: 'session.status_idle',
        processed_at: end,
        stop_reason: { type: event.event === 'run.completed' ? 'end_turn' : 'retries_exhausted' },
        stop_details: null,
      });
      return out;
    }
    if (event.event.startsWith('approval.') || event.event.startsWith('tool.'))
      return this.action(event, this.id(seq, k()));
    if (event.event !== 'message' || !isRecord(event.data)) return out;
    const m = event.data;
    if (m.parent_tool_use_id) return out;
    const message = isRecord(m.message) ? m.message : null;
    if (m.type === 'assistant' && message) {
      const messageId = typeof message.id === 'string' ? message.id : `seq${seq}`;
      if (this.openSpan?.messageId !== messageId) {
        this.closeSpan(out, seq, k);
        const id = this.id(seq, k());
        out.push({ id, type: 'span.model_request_start', processed_at: at });
        this.openSpan = { id, messageId, usage: undefined };
      }
      this.openSpan.usage = isRecord(message.usage)
        ? (message.usage as Usage)
        : this.openSpan.usage;
      const blocks = Array.isArray(message.content) ? message.content.filter(isRecord) : [];
      const texts = blocks.filter((b) => b.type === 'text' && typeof b.text === 'string');
      for (const b of blocks) {
        if (b.type === 'thinking' || b.type === 'redacted_thinking')
          out.push({ id: this.id(seq, k()), type: 'agent.thinking', processed_at: at });
      }
      if (texts.length > 0)
        out.push({
          id: this.id(seq, k()),
          type: 'agent.message',
          processed_at: at,
          content: texts.map((b) => ({ type: 'text', text: b.text })),
        });
      for (const b of blocks) {
        if (b.type !== 'tool_use' || typeof b.name !== 'string') continue;
        out.push(this.toolUse(b, this.id(seq, k())));
      }
      return out;
    }
    if (m.type === 'user' && message && Array.isArray(message.content)) {
      for (const b of message.content.filter(isRecord)) {
        if (b.type !== 'tool_result' || typeof b.tool_use_id !== 'string') continue;
        const use = this.tools.get(b.tool_use_id);
        if (!use || use.kind === 'custom') continue;
        this.closeSpan(out, seq, k);
        const common = {
          id: this.id(seq, k()),
          processed_at: at,
          content: resultContent(b.content),
          is_error: b.is_error === true,
        };
        out.push(
          use.kind === 'mcp'
            ? { ...common, type: 'agent.mcp_tool_result', mcp_tool_use_id: use.eventId }
            : { ...common, type: 'agent.tool_result', tool_use_id: use.eventId },
        );
      }
    }
    return out;
  }

  /**
   * Approvals and client tool calls: a request idles the session with `requires_action` naming
   * the tool use it waits on; its resolution sets the session running again.
   */
  private action(event: RunEventInput, id: string): SessionEvent[] {
    const data = isRecord(event.data) ? event.data : {};
    const at = this.meta.startedAt;
    let eventId: string | undefined;
    if (event.event === 'approval.requested' && typeof data.approvalId === 'string') {
      eventId =
        typeof data.toolUseId === 'string' ? this.tools.get(data.toolUseId)?.eventId : undefined;
      if (eventId) this.pending.set(eventId, { kind: 'approval', approvalId: data.approvalId });
    } else if (event.event === 'tool.requested' && typeof data.callId === 'string') {
      const index = this.customUses.findIndex((u) => u.name === data.name);
      const use = index >= 0 ? this.customUses.splice(index, 1)[0] : undefined;
      eventId = use?.eventId;
      if (eventId) this.pending.set(eventId, { kind: 'tool', callId: data.callId });
    } else {
      const itemId = data.approvalId ?? data.callId;
      for (const [key, action] of this.pending)
        if ((action.kind === 'approval' ? action.approvalId : action.callId) === itemId)
          this.pending.delete(key);
      return [{ id, type: 'session.status_running', processed_at: at }];
    }
    if (!eventId) return [];
    return [
      {
        id,
        type: 'session.status_idle',
        processed_at: at,
        stop_reason: { type: 'requires_action', event_ids: [eventId] },
        stop_details: null,
      },
    ];
  }

  private toolUse(block: Record<string, unknown>, id: string): SessionEvent {
    const name = block.name as string;
    const input = isRecord(block.input) ? block.input : {};
    const at = this.meta.startedAt;
    const toolUseId = typeof block.id === 'string' ? block.id : id;
    const mcp = /^mcp__([^_].*?)__(.+)$/.exec(name);
    if (mcp?.[1] && mcp[2]) {
      if (mcp[1] === CLIENT_TOOLS_SERVER) {
        this.tools.set(toolUseId, { eventId: id, kind: 'custom' });
        this.customUses.push({ eventId: id, name: mcp[2] });
        return { id, type: 'agent.custom_tool_use', processed_at: at, name: mcp[2], input };
      }
      this.tools.set(toolUseId, { eventId: id, kind: 'mcp' });
      return {
        id,
        type: 'agent.mcp_tool_use',
        processed_at: at,
        mcp_server_name: mcp[1],
        name: mcp[2],
        input,
        evaluated_permission: this.meta.permissionOf?.(name) ?? 'allow',
      };
    }
    this.tools.set(toolUseId, { eventId: id, kind: 'tool' });
    const toolset = toolsetNameOf(name);
    return {
      id,
      type: 'agent.tool_use',
      processed_at: at,
      name: toolset ?? name,
      input: toolset ? toToolsetInput(toolset, input) : input,
      evaluated_permission: this.meta.permissionOf?.(name) ?? 'allow',
    };
  }
}

/** A run's summed usage from its summary (when the translator did not see its replies). */
export function summaryUsage(summary: RunSummary | null): Record<string, number> {
  const u = (summary?.usage ?? {}) as Usage;
  return spanUsage(u);
}
