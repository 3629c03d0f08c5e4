/**
 * One model turn, shared by the Anthropic and Bedrock routes: read the request, plan the reply,
 * honour a sleep directive (cut short when the client leaves), then emit the message.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { readConversation, type ConversationView } from './conversation.js';
import { planTurn, type TurnPlan } from './directives.js';
import { echoSource } from './echo.js';
import {
  buildMessage,
  contentEvents,
  estimateTokens,
  openingEvents,
  type AnthropicMessage,
  type StreamEvent,
} from './message.js';

export interface Turn {
  view: ConversationView;
  plan: TurnPlan;
  message: AnthropicMessage;
}

/** Plans the reply to a Messages request body (Anthropic or Bedrock shape). */
export function takeTurn(body: Record<string, unknown>, model: string): Turn {
  const view = readConversation(body.messages);
  const plan = planTurn({
    ...view,
    toolsOffered: Array.isArray(body.tools) && body.tools.length > 0,
    offeredTools: toolNames(body.tools),
    echo: echoSource(body, model),
  });
  const inputTokens = estimateTokens({
    system: body.system,
    messages: body.messages,
    tools: body.tools,
  });
  return { view, plan, message: buildMessage(plan, model, inputTokens) };
}

function toolNames(tools: unknown): string[] {
  if (!Array.isArray(tools)) return [];
  return tools.flatMap((t: unknown) =>
    typeof t === 'object' && t !== null && typeof (t as { name?: unknown }).name === 'string'
      ? [(t as { name: string }).name]
      : [],
  );
}

/** The number of input tokens a count-tokens request is answered with. */
export function countTokens(body: unknown): number {
  return estimateTokens(body);
}

/** Waits out the turn's sleep; false when the client left first. */
export async function waitForTurn(turn: Turn, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return false;
  if (turn.plan.sleepMs <= 0) return true;
  try {
    await sleep(turn.plan.sleepMs, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}

/**
 * Emits a streamed turn: `message_start` at once, then the sleep, then the content. Returns
 * false when the client left before the end.
 */
export async function streamTurn(
  turn: Turn,
  emit: (event: StreamEvent) => Promise<void>,
  signal: AbortSignal,
  options: { ping: boolean; decorate?: (event: StreamEvent) => StreamEvent },
): Promise<boolean> {
  const decorate = options.decorate ?? ((event: StreamEvent) => event);
  for (const event of openingEvents(turn.message)) await emit(decorate(event));
  if (options.ping) await emit({ type: 'ping' });
  if (!(await waitForTurn(turn, signal))) return false;
  for (const event of contentEvents(turn.plan, turn.message)) {
    if (signal.aborted) return false;
    await emit(decorate(event));
  }
  return true;
}
