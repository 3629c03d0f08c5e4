import type { FastifyReply, FastifyRequest } from 'fastify';
import type { SseHub, SseWriter } from '../sse.js';
import type { SessionService } from '../../managed-agents/sessions.js';
import type { SessionEvent } from '../../managed-agents/translate-events.js';

/** One event in the SSE framing the SDK's `Stream` reads: `event:` its type, `data:` its JSON. */
export function formatEvent(event: SessionEvent): string {
  return `event: ${event.type}\nid: ${event.id}\ndata: ${JSON.stringify(event)}\n\n`;
}

/**
 * Streams a session's events from now on, as Anthropic's stream does; with `Last-Event-ID`, the
 * history after that event first (events are deduplicated by id). The stream ends when the
 * session is deleted or the client goes away.
 */
export async function streamSession(
  sessions: SessionService,
  hub: SseHub,
  request: FastifyRequest,
  reply: FastifyReply,
  sessionId: string,
): Promise<FastifyReply> {
  const tenant = request.principal.tenant;
  await sessions.exists(tenant, sessionId);
  const resumeAfter = request.headers['last-event-id'];
  const buffered: SessionEvent[] = [];
  let live: ((e: SessionEvent) => void) | null = null;
  const unsubscribe = sessions.subscribe(sessionId, (e) => (live ? live(e) : buffered.push(e)));
  let backlog: SessionEvent[] = [];
  try {
    if (typeof resumeAfter === 'string' && resumeAfter.length > 0) {
      const history = await sessions.history(tenant, sessionId);
      const at = history.findIndex((e) => e.id === resumeAfter);
      backlog = at >= 0 ? history.slice(at + 1) : [];
    }
  } catch (err) {
    unsubscribe();
    throw err;
  }
  reply.hijack();
  let sse: SseWriter;
  try {
    sse = hub.start(reply.raw);
  } catch {
    unsubscribe();
    reply.raw.destroy();
    return reply;
  }
  const seen = new Set<string>();
  let ended = false;
  const finish = (): void => {
    if (ended) return;
    ended = true;
    unsubscribe();
    sse.end();
  };
  const write = (event: SessionEvent): void => {
    if (ended || seen.has(event.id)) return;
    seen.add(event.id);
    reply.raw.write(formatEvent(event));
    if (event.type === 'session.deleted') finish();
  };
  for (const e of [...backlog, ...buffered]) write(e);
  live = write;
  reply.raw.on('close', finish);
  return reply;
}
