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
 * history after that event first. Events come from this host's listeners at once and from the
 * session's feed, which carries what every host publishes (a turn taken by another host, a
 * message sent to another host); each is written once, by id. Opening it makes sure a live host
 * takes the session's turns (`SessionService.watchTurns`), so a turn whose host dies still
 * reaches its end here. The stream ends when the session is deleted or the client goes away.
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
  const seen = new Set<string>();
  let backlog: SessionEvent[] = [];
  let feedFrom: number;
  try {
    let resumed = false;
    if (typeof resumeAfter === 'string' && resumeAfter.length > 0) {
      const history = await sessions.history(tenant, sessionId);
      const at = history.findIndex((e) => e.id === resumeAfter);
      if (at >= 0) {
        resumed = true;
        for (const e of history.slice(0, at + 1)) seen.add(e.id);
        backlog = history.slice(at + 1);
      }
    }
    // A resumed stream reads the feed's last events again: one published while the history was
    // read is written once, and one the history already held is skipped by id.
    feedFrom = await sessions.feedStart(sessionId, resumed);
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
  const abort = new AbortController();
  let ended = false;
  const finish = (): void => {
    if (ended) return;
    ended = true;
    abort.abort();
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
  // A turn whose host went away is carried on by a live host, so this stream sees its end.
  sessions.watchTurns(request.principal, sessionId);
  reply.raw.on('close', finish);
  void (async () => {
    for await (const batch of sessions.followFeed(tenant, sessionId, feedFrom, abort.signal))
      for (const e of batch) write(e);
    // The feed ends when the session is gone.
    finish();
  })().catch((err: unknown) => {
    request.log.error({ err, session: sessionId }, 'the session feed failed; the stream ends');
    finish();
  });
  return reply;
}
