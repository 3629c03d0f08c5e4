import type { RunEvent } from '@workcell/client';

/** Where the renderer writes: the reply's text and tool lines, and problems. */
export interface ChatOutput {
  out(text: string): void;
  err(text: string): void;
}

interface ContentBlock {
  type: string;
  text?: string;
  name?: string;
  input?: unknown;
  is_error?: boolean;
  content?: unknown;
}

const MAX_LINE = 100;

/** One line, cut to `max` characters. */
function oneLine(text: string, max = MAX_LINE): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** A tool call in one line: its name and its most telling argument. */
export function describeToolCall(name: string, input: unknown): string {
  const args = (input ?? {}) as Record<string, unknown>;
  const main = args.file_path ?? args.command ?? args.path ?? args.pattern ?? args.url;
  const detail = typeof main === 'string' ? main : JSON.stringify(args);
  return oneLine(`${name} ${detail}`);
}

function blocks(data: Record<string, unknown>): ContentBlock[] {
  const content = (data.message as { content?: unknown } | undefined)?.content;
  return Array.isArray(content) ? (content as ContentBlock[]) : [];
}

/**
 * Turns a run's events into terminal output: the reply's text as it streams in (the SDK's
 * `stream_event` text deltas), each tool call as one `• Tool arg` line, a failed tool result as
 * one line, and the end of the run. An assistant message whose text did not stream (no deltas)
 * is printed whole.
 */
export class ChatRenderer {
  private streamed = false;
  private atLineStart = true;

  constructor(private readonly output: ChatOutput) {}

  private write(text: string): void {
    if (text === '') return;
    this.output.out(text);
    this.atLineStart = text.endsWith('\n');
  }

  private line(text: string): void {
    if (!this.atLineStart) this.write('\n');
    this.write(`${text}\n`);
  }

  event(ev: RunEvent): void {
    switch (ev.event) {
      case 'run.started':
      case 'user.message':
        // The prompt is the user's own line, already on the terminal.
        return;
      case 'message':
        this.message(ev.data);
        return;
      case 'run.completed':
        if (ev.data.interrupted) this.line('[interrupted]');
        else this.finish();
        return;
      case 'run.failed':
        if (!this.atLineStart) this.write('\n');
        this.output.err(`error: ${ev.data.code}: ${ev.data.message}\n`);
        return;
      case 'approval.requested':
        // The chat asks the question itself (`chat-approvals.ts`).
        this.finish();
        return;
      case 'approval.resolved':
        this.line(
          ev.data.decision === 'allow'
            ? '  [allowed]'
            : `  [denied${ev.data.reason === 'client' ? '' : `: ${ev.data.reason}`}]`,
        );
        return;
      case 'tool.requested':
        this.line(
          `• client tool ${describeToolCall(ev.data.name, ev.data.input)} (call ${ev.data.callId})`,
        );
        return;
      case 'tool.resolved':
        if (ev.data.isError)
          this.line(
            `  ! client tool failed${ev.data.reason === 'client' ? '' : `: ${ev.data.reason}`}`,
          );
        return;
      default:
        return;
    }
  }

  private message(data: { type: string; [key: string]: unknown }): void {
    if (data.type === 'stream_event') {
      const event = data.event as
        { type?: string; delta?: { type?: string; text?: string } } | undefined;
      if (event?.type === 'message_start') this.streamed = false;
      if (event?.type === 'content_block_delta' && event.delta?.type === 'text_delta') {
        this.streamed = true;
        this.write(event.delta.text ?? '');
      }
      return;
    }
    if (data.type === 'assistant') {
      for (const block of blocks(data)) {
        if (block.type === 'text' && !this.streamed) this.write(block.text ?? '');
        if (block.type === 'tool_use')
          this.line(`• ${describeToolCall(block.name ?? '?', block.input)}`);
      }
      this.streamed = false;
      return;
    }
    if (data.type === 'user') {
      for (const block of blocks(data)) {
        if (block.type === 'tool_result' && block.is_error) {
          const text =
            typeof block.content === 'string' ? block.content : JSON.stringify(block.content);
          this.line(`  ! ${oneLine(text)}`);
        }
      }
    }
  }

  /** Ends the current line, if text is pending on it. */
  finish(): void {
    if (!this.atLineStart) this.write('\n');
  }
}
