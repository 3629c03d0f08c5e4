import type { MessageContent, RunEvent } from '@workcell/client';
import { h } from './dom.js';

interface Block {
  type: string;
  id?: string;
  text?: string;
  name?: string;
  input?: unknown;
  tool_use_id?: string;
  is_error?: boolean;
  content?: unknown;
}

function blocksOf(data: Record<string, unknown>): Block[] {
  const content = (data.message as { content?: unknown } | undefined)?.content;
  return Array.isArray(content) ? (content as Block[]) : [];
}

/** A tool call in one line: its name and its most telling argument. */
function toolSummary(name: string, input: unknown): string {
  const args = (input ?? {}) as Record<string, unknown>;
  const main = args.file_path ?? args.command ?? args.path ?? args.pattern ?? args.url;
  const detail = typeof main === 'string' ? main : '';
  const line = `${name} ${detail}`.replace(/\s+/g, ' ').trim();
  return line.length > 120 ? `${line.slice(0, 119)}…` : line;
}

function resultText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content))
    return content
      .map((c: { type?: string; text?: string }) => (c.type === 'text' ? (c.text ?? '') : ''))
      .join('\n');
  return JSON.stringify(content, null, 2);
}

/** A prompt as text: a string as it is, blocks as their text with each image named. */
function promptText(content: MessageContent): string {
  if (typeof content === 'string') return content;
  return content
    .map((b) => (b.type === 'text' ? b.text : `[image ${b.source.media_type}]`))
    .join('\n');
}

/** What the log's run buttons do: fork the conversation at the run, rewind it to the run. */
export interface RunActions {
  fork(runId: string): void;
  rewind(runId: string): void;
}

/**
 * Renders a conversation's run events into its log: the user's message, the reply's text as it
 * streams in, each tool call as a compact expandable line with its result, and how the run
 * ended. Events are applied in order; the same renderer serves history, live runs and a run
 * rejoined after a reload.
 */
export class ChatLog {
  private bubble: HTMLElement | null = null;
  private streamed = false;
  private readonly tools = new Map<string, HTMLDetailsElement>();
  /** Approvals and client tool calls shown, by id, until they are resolved. */
  private readonly waiting = new Map<string, HTMLElement>();
  private pendingPrompt: HTMLElement | null = null;
  /** The run whose events are being applied (from its `run.started`). */
  private runId: string | null = null;
  /** Where events are shown: the log, or a rewound run's group in it. */
  private target: HTMLElement;

  /**
   * `decide` sends a decision on an approval (the **Allow** / **Deny** buttons); without it a
   * pending approval is shown without buttons. `runActions`, when given, puts **Fork from here**
   * and **Rewind to here** on every run that ended.
   */
  constructor(
    private readonly log: HTMLElement,
    private readonly decide?: (approvalId: string, decision: 'allow' | 'deny') => Promise<void>,
    private readonly runActions?: RunActions,
  ) {
    this.target = log;
  }

  /** The buttons of a run that ended, or nothing without `runActions` or a run id. */
  private actionsFor(runId: string | null): HTMLElement | null {
    const actions = this.runActions;
    if (!actions || runId === null || this.target !== this.log) return null;
    return h(
      'span',
      { class: 'run-actions', role: 'group', 'aria-label': `Run ${runId}` },
      h(
        'button',
        { type: 'button', class: 'link', onclick: () => actions.fork(runId) },
        'Fork from here',
      ),
      h(
        'button',
        { type: 'button', class: 'link', onclick: () => actions.rewind(runId) },
        'Rewind to here',
      ),
    );
  }

  /**
   * Shows the events applied until `endRewound()` as a run the conversation was rewound past:
   * kept in the history, set apart, and without run buttons (the model no longer sees it).
   */
  beginRewound(): void {
    this.target = this.log.appendChild(
      h(
        'div',
        { class: 'rewound', role: 'group', 'aria-label': 'Rewound turn' },
        h('p', { class: 'muted' }, 'Rewound: the agent no longer sees this turn.'),
      ),
    );
  }

  endRewound(): void {
    this.target = this.log;
  }

  private add(el: HTMLElement): HTMLElement {
    this.target.append(el);
    el.scrollIntoView?.({ block: 'end' });
    return el;
  }

  /** The user's message, shown at once when sent (the run's events follow it). */
  userMessage(text: string, pending = false): void {
    const el = this.add(h('div', { class: 'msg user' }, h('span', { class: 'who' }, 'You'), text));
    if (pending) this.pendingPrompt = el;
  }

  error(text: string): void {
    this.add(h('div', { class: 'msg failed', role: 'alert' }, text));
  }

  event(ev: RunEvent): void {
    switch (ev.event) {
      case 'user.message':
        // The host's record of the prompt (history, a rejoined run); the one shown on sending
        // stands for it in a live run.
        if (this.pendingPrompt) this.pendingPrompt = null;
        else this.userMessage(promptText(ev.data.content));
        return;
      case 'run.started':
        this.runId = ev.data.runId;
        this.bubble = null;
        this.streamed = false;
        return;
      case 'message':
        this.message(ev.data);
        return;
      case 'run.completed': {
        this.pendingPrompt = null;
        const d = ev.data;
        const text = d.interrupted
          ? 'Interrupted'
          : `Completed in ${(d.durationMs / 1000).toFixed(1)} s${d.totalCostUsd ? `, $${d.totalCostUsd.toFixed(4)}` : ''}`;
        this.add(
          h(
            'div',
            { class: `status${d.interrupted ? ' interrupted' : ''}` },
            text,
            this.actionsFor(this.runId),
          ),
        );
        return;
      }
      case 'run.failed':
        this.pendingPrompt = null;
        this.error(`Run failed: ${ev.data.message} (${ev.data.code})`);
        return;
      case 'approval.requested':
        this.approvalRequested(ev.data);
        return;
      case 'approval.resolved': {
        const { approvalId, decision, reason } = ev.data;
        const how = decision === 'allow' ? 'Allowed' : 'Denied';
        this.resolve(approvalId, reason === 'client' ? how : `${how} (${reason})`);
        return;
      }
      case 'tool.requested': {
        const { callId, name, input } = ev.data;
        const card = h(
          'div',
          { class: 'approval tool-call', role: 'group', 'aria-label': `Client tool ${name}` },
          h('p', {}, `Client tool ${name} waits for the client's result (call ${callId})`),
          h('pre', { class: 'tool-input' }, JSON.stringify(input, null, 2)),
        );
        this.waiting.set(callId, card);
        this.add(card);
        this.bubble = null;
        return;
      }
      case 'tool.resolved':
        this.resolve(
          ev.data.callId,
          ev.data.isError
            ? `Failed${ev.data.reason === 'client' ? '' : ` (${ev.data.reason})`}`
            : 'Answered',
        );
        return;
      default:
        return;
    }
  }

  /**
   * A tool call that waits for a decision: the tool, its input, and **Allow** / **Deny**. The
   * buttons go once the run says it was decided (here or anywhere else).
   */
  private approvalRequested(data: {
    approvalId: string;
    toolName: string;
    input: Record<string, unknown>;
  }): void {
    const status = h('p', { class: 'approval-status', role: 'status' });
    const card = h(
      'div',
      { class: 'approval', role: 'group', 'aria-label': `Approval for ${data.toolName}` },
      h('p', {}, `Allow ${toolSummary(data.toolName, data.input)}?`),
      h('pre', { class: 'tool-input' }, JSON.stringify(data.input, null, 2)),
      status,
    );
    const decide = this.decide;
    if (decide) {
      const buttons: HTMLButtonElement[] = [];
      const choose = (decision: 'allow' | 'deny') => (): void => {
        for (const b of buttons) b.disabled = true;
        decide(data.approvalId, decision).catch((err: unknown) => {
          status.textContent = err instanceof Error ? err.message : String(err);
          for (const b of buttons) b.disabled = false;
        });
      };
      buttons.push(
        h('button', { type: 'button', onclick: choose('allow') }, 'Allow'),
        h('button', { type: 'button', class: 'danger', onclick: choose('deny') }, 'Deny'),
      );
      card.append(h('div', { class: 'row' }, ...buttons));
    }
    this.waiting.set(data.approvalId, card);
    this.add(card);
    this.bubble = null;
  }

  /** Marks a shown approval or client tool call as resolved, taking its buttons away. */
  private resolve(id: string, text: string): void {
    const card = this.waiting.get(id);
    if (!card) return;
    this.waiting.delete(id);
    card.querySelector('.row')?.remove();
    const status =
      card.querySelector('.approval-status') ?? card.appendChild(h('p', { role: 'status' }));
    status.textContent = text;
    card.classList.add('resolved');
  }

  private message(data: { type: string; [key: string]: unknown }): void {
    if (data.type === 'stream_event') {
      const e = data.event as { type?: string; delta?: { type?: string; text?: string } };
      if (e?.type === 'message_start') {
        this.bubble = null;
        this.streamed = false;
      }
      if (e?.type === 'content_block_delta' && e.delta?.type === 'text_delta') {
        this.streamed = true;
        this.assistantBubble().append(e.delta.text ?? '');
      }
      return;
    }
    if (data.type === 'assistant') {
      for (const block of blocksOf(data)) {
        if (block.type === 'text' && !this.streamed && block.text)
          this.assistantBubble().append(block.text);
        if (block.type === 'tool_use') this.toolCall(block);
      }
      return;
    }
    if (data.type === 'user') {
      for (const block of blocksOf(data)) if (block.type === 'tool_result') this.toolResult(block);
    }
  }

  private assistantBubble(): HTMLElement {
    if (!this.bubble) {
      this.bubble = h('div', { class: 'msg assistant' });
      this.add(this.bubble);
    }
    return this.bubble;
  }

  private toolCall(block: Block): void {
    if (block.id && this.tools.has(block.id)) return;
    const details = h(
      'details',
      { class: 'tool' },
      h('summary', {}, toolSummary(block.name ?? 'tool', block.input)),
      h('pre', { class: 'tool-input' }, JSON.stringify(block.input ?? {}, null, 2)),
    );
    if (block.id) this.tools.set(block.id, details);
    this.add(details);
    // Text after a tool call is a new bubble.
    this.bubble = null;
  }

  private toolResult(block: Block): void {
    const details = block.tool_use_id ? this.tools.get(block.tool_use_id) : undefined;
    const pre = h(
      'pre',
      { class: `tool-result${block.is_error ? ' error' : ''}` },
      resultText(block.content),
    );
    if (details) {
      details.append(pre);
      if (block.is_error) details.classList.add('error');
    }
  }
}
