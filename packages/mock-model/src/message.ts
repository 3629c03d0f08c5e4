/**
 * Turns a planned turn into the Anthropic Messages API's two answer shapes: one JSON message,
 * or the ordered stream events (`message_start` ... `message_stop`) a streaming client reads.
 */
import { randomBytes } from 'node:crypto';
import type { PlannedBlock, TurnPlan } from './directives.js';

export interface Usage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
}

export type ContentBlock =
  | { type: 'text'; text: string }
  | { type: 'tool_use'; id: string; name: string; input: Record<string, unknown> };

export interface AnthropicMessage {
  id: string;
  type: 'message';
  role: 'assistant';
  model: string;
  content: ContentBlock[];
  stop_reason: TurnPlan['stopReason'];
  stop_sequence: null;
  usage: Usage;
}

/** One event of a streamed message; `type` doubles as the SSE event name. */
export type StreamEvent = { type: string } & Record<string, unknown>;

/** A rough token count: about four characters a token, as the real tokenizer averages. */
export function estimateTokens(value: unknown): number {
  const text = typeof value === 'string' ? value : JSON.stringify(value ?? '');
  return Math.max(1, Math.ceil(text.length / 4));
}

function randomId(prefix: string): string {
  return `${prefix}${randomBytes(12).toString('hex')}`;
}

function toContentBlock(block: PlannedBlock): ContentBlock {
  return block.type === 'text'
    ? { type: 'text', text: block.deltas.join('') }
    : { type: 'tool_use', id: randomId('toolu_mock_'), name: block.name, input: block.input };
}

/** Builds the complete assistant message a turn answers. */
export function buildMessage(plan: TurnPlan, model: string, inputTokens: number): AnthropicMessage {
  const content = plan.blocks.map(toContentBlock);
  return {
    id: randomId('msg_mock_'),
    type: 'message',
    role: 'assistant',
    model,
    content,
    stop_reason: plan.stopReason,
    stop_sequence: null,
    usage: {
      input_tokens: inputTokens,
      output_tokens: estimateTokens(content),
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
    },
  };
}

/** The events that open a streamed message, sent before any wait. */
export function openingEvents(message: AnthropicMessage): StreamEvent[] {
  const { content: _content, stop_reason: _stop, ...rest } = message;
  return [
    {
      type: 'message_start',
      message: {
        ...rest,
        content: [],
        stop_reason: null,
        usage: { ...message.usage, output_tokens: 1 },
      },
    },
  ];
}

/**
 * The events after `message_start`: for each block a start, its deltas (one per planned text
 * delta; a tool's input as JSON in a few pieces) and a stop; then `message_delta` with the
 * stop reason and usage, and `message_stop`.
 */
export function* contentEvents(plan: TurnPlan, message: AnthropicMessage): Generator<StreamEvent> {
  for (const [index, block] of plan.blocks.entries()) {
    const built = message.content[index];
    if (built === undefined) continue;
    if (built.type === 'text' && block.type === 'text') {
      yield { type: 'content_block_start', index, content_block: { type: 'text', text: '' } };
      for (const text of block.deltas) {
        yield { type: 'content_block_delta', index, delta: { type: 'text_delta', text } };
      }
    } else if (built.type === 'tool_use') {
      yield {
        type: 'content_block_start',
        index,
        content_block: { type: 'tool_use', id: built.id, name: built.name, input: {} },
      };
      for (const partial_json of splitJson(JSON.stringify(built.input))) {
        yield {
          type: 'content_block_delta',
          index,
          delta: { type: 'input_json_delta', partial_json },
        };
      }
    }
    yield { type: 'content_block_stop', index };
  }
  yield {
    type: 'message_delta',
    delta: { stop_reason: message.stop_reason, stop_sequence: null },
    usage: { ...message.usage },
  };
  yield { type: 'message_stop' };
}

/** Cuts a JSON text into pieces as the real API streams tool input (never mid-character). */
function splitJson(json: string): string[] {
  const pieceLength = Math.max(8, Math.ceil(json.length / 3));
  const chars = Array.from(json);
  const pieces: string[] = [];
  for (let start = 0; start < chars.length; start += pieceLength) {
    pieces.push(chars.slice(start, start + pieceLength).join(''));
  }
  return pieces;
}
