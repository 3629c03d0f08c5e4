import Anthropic from '@anthropic-ai/sdk';
import type { BetaManagedAgentsStreamSessionEvents } from '@anthropic-ai/sdk/resources/beta/sessions/events';
import type { TestHost } from '../support/host.js';

/** The official SDK pointed at a Workcell host: the two constructor arguments. */
export function sdkFor(host: Pick<TestHost, 'url'>, apiKey: string): Anthropic {
  return new Anthropic({ baseURL: host.url, apiKey, maxRetries: 0 });
}

type StreamEvent = BetaManagedAgentsStreamSessionEvents;

/**
 * Opens the session's stream, runs `send`, and collects events until `until` holds for one
 * (by default the session going idle), or the time runs out.
 */
export async function streamUntil(
  client: Anthropic,
  sessionId: string,
  send: () => Promise<unknown>,
  until: (event: StreamEvent, seen: StreamEvent[]) => boolean = (e) =>
    e.type === 'session.status_idle',
  timeoutMs = 60_000,
): Promise<StreamEvent[]> {
  const stream = await client.beta.sessions.events.stream(sessionId);
  const seen: StreamEvent[] = [];
  const timer = setTimeout(() => stream.controller.abort(), timeoutMs);
  try {
    await send();
    for await (const event of stream) {
      seen.push(event);
      if (until(event, seen)) break;
    }
  } finally {
    clearTimeout(timer);
  }
  return seen;
}

/** One text `user.message`. */
export function userText(text: string): {
  type: 'user.message';
  content: { type: 'text'; text: string }[];
} {
  return { type: 'user.message', content: [{ type: 'text', text }] };
}
