/**
 * Reads an Anthropic Messages request body the way the mock needs it: the user's latest prompt,
 * how many prompts came before it, and how many tool calls the model has made since it.
 */

const SYSTEM_REMINDER = /<system-reminder>[\s\S]*?<\/system-reminder>/g;

/** What the mock learns from a request's `messages`. */
export interface ConversationView {
  /** The latest user prompt with `<system-reminder>` blocks removed; null when there is none. */
  userText: string | null;
  /** User messages with real text before the latest one (a resumed session's history). */
  priorUserTurns: number;
  /** `tool_use` blocks the assistant has sent since the latest user prompt. */
  toolCallsSincePrompt: number;
}

type Block = Record<string, unknown>;

function blocksOf(content: unknown): Block[] {
  if (typeof content === 'string') return [{ type: 'text', text: content }];
  if (!Array.isArray(content)) return [];
  return content.filter((block): block is Block => typeof block === 'object' && block !== null);
}

/** The real text a user message carries: its text blocks without system reminders. */
export function userTextOf(content: unknown): string | null {
  const parts: string[] = [];
  for (const block of blocksOf(content)) {
    if (block.type !== 'text' || typeof block.text !== 'string') continue;
    const text = block.text.replace(SYSTEM_REMINDER, '').trim();
    if (text.length > 0) parts.push(text);
  }
  return parts.length > 0 ? parts.join('\n') : null;
}

function countToolUses(content: unknown): number {
  return blocksOf(content).filter((block) => block.type === 'tool_use').length;
}

/**
 * Finds the last `user` message with real text (tool results and reminder-only messages do not
 * count; messages of other roles may follow it) and counts what surrounds it.
 */
export function readConversation(messages: unknown): ConversationView {
  const list = Array.isArray(messages) ? messages : [];
  let promptIndex = -1;
  let userText: string | null = null;
  let userTextMessages = 0;
  for (const [index, message] of list.entries()) {
    if (typeof message !== 'object' || message === null) continue;
    const { role, content } = message as { role?: unknown; content?: unknown };
    if (role !== 'user') continue;
    const text = userTextOf(content);
    if (text === null) continue;
    promptIndex = index;
    userText = text;
    userTextMessages += 1;
  }
  let toolCallsSincePrompt = 0;
  for (const message of list.slice(promptIndex + 1)) {
    if (typeof message !== 'object' || message === null) continue;
    const { role, content } = message as { role?: unknown; content?: unknown };
    if (role === 'assistant') toolCallsSincePrompt += countToolUses(content);
  }
  return {
    userText,
    priorUserTurns: Math.max(0, userTextMessages - 1),
    toolCallsSincePrompt,
  };
}
