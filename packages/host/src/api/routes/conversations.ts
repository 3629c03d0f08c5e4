import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { assertTicketWorkspace } from '../../auth/tickets.js';
import type { ConversationRecord } from '../../catalog/catalog.js';
import { creationKey, nextCursor, pageOf, pageRequest } from '../../catalog/page.js';
import type { FinishedRunSource } from '../../execute/run-events.js';
import type { BufferedEvent } from '../../state/state-store.js';
import type { ApiServices } from '../context.js';
import { ops, route } from '../contract.js';
import { resumePoint } from '../resume.js';
import type { SseHub, SseWriter } from '../sse.js';

/** The streamed answer to a message names its run here. */
const RUN_ID_HEADER = 'x-workcell-run-id';

function conversationView(c: ConversationRecord): {
  id: string;
  workspaceId: string;
  title: string;
  createdAt: string;
} {
  return { id: c.id, workspaceId: c.workspaceId, title: c.title, createdAt: c.createdAt };
}

function wantsEventStream(request: FastifyRequest): boolean {
  return (request.headers.accept ?? '').includes('text/event-stream');
}

/** Reads an ended run from the durable log (the live buffer when the log could not be written). */
async function endedRunEvents(
  s: ApiServices,
  conversation: ConversationRecord,
  runId: string,
  after: number,
): Promise<BufferedEvent[]> {
  const stored = await s.catalog.readRunEvents(conversation, runId);
  // A run with no durable log is still running (or lost): the buffer is the only other source,
  // and when it cannot be read the client gets what there is (nothing) and may follow live.
  const events = stored.length > 0 ? stored : await s.events.read(runId, 0).catch(() => []);
  return events.filter((e) => e.seq > after);
}

/**
 * Streams a run's events after `after` as SSE: replay, then live until the terminal event. An
 * ended run with nothing after `after` answers 204, which tells an EventSource to stop
 * reconnecting. The client going away stops only this stream, never the run.
 */
async function streamRun(
  s: ApiServices,
  hub: SseHub,
  reply: FastifyReply,
  conversation: ConversationRecord,
  runId: string,
  after: number,
): Promise<FastifyReply> {
  const run = s.catalog.getRun(conversation, runId);
  let replay: BufferedEvent[] | null = null;
  if (run.status !== 'running' && !s.events.isLive(runId)) {
    replay = await endedRunEvents(s, conversation, runId, after);
    if (replay.length === 0) return reply.code(204).send();
  }

  reply.hijack();
  let sse: SseWriter;
  try {
    sse = hub.start(reply.raw);
  } catch (err) {
    s.logger.error({ runId, err }, 'cannot start the event stream');
    reply.raw.destroy();
    return reply;
  }
  const abort = new AbortController();
  reply.raw.on('close', () => abort.abort());
  if (reply.raw.destroyed) abort.abort();
  const finished: FinishedRunSource = {
    isFinished: async () => {
      const c = await s.catalog.getConversation(conversation.tenant, conversation.id);
      return c.runs.find((r) => r.id === runId)?.status !== 'running';
    },
    readPersisted: () => s.catalog.readRunEvents(conversation, runId),
  };
  try {
    const batches = replay ? [replay] : s.events.follow(runId, after, abort.signal, finished);
    for await (const batch of batches) {
      if (!sse.sendMany(batch)) {
        if (sse.isClosed) break;
        await sse.drained();
      }
    }
  } catch (err) {
    s.logger.warn({ runId, err }, 'event stream ended with an error');
  } finally {
    sse.end();
  }
  return reply;
}

export function registerConversationRoutes(
  app: FastifyInstance,
  s: ApiServices,
  hub: SseHub,
): void {
  route(app, ops.createConversation, async (request, reply, { params, body }) => {
    const c = await s.catalog.createConversation(request.principal.tenant, params.wid, body.title);
    return reply.code(201).send(conversationView(c));
  });

  route(app, ops.listConversations, async (request, _reply, { params, query }) => {
    const page = await s.catalog.listConversationPage(
      request.principal.tenant,
      params.wid,
      pageRequest('conversations', query),
    );
    return {
      conversations: page.items.map((c) => ({
        id: c.id,
        workspaceId: c.workspaceId,
        title: c.title,
        createdAt: c.createdAt,
      })),
      nextCursor: nextCursor('conversations', page),
    };
  });

  route(app, ops.listRuns, async (request, _reply, { params, query }) => {
    const req = pageRequest('runs', query);
    const c = await s.catalog.getConversation(request.principal.tenant, params.cid);
    const page = pageOf(c.runs, (r) => creationKey(r.startedAt, r.id), req);
    return { runs: page.items, nextCursor: nextCursor('runs', page) };
  });

  route(app, ops.getConversation, async (request, _reply, { params }) => {
    const c = await s.catalog.getConversation(request.principal.tenant, params.cid);
    return { ...conversationView(c), sessionId: c.sessionId, runs: c.runs };
  });

  route(app, ops.postMessage, async (request, reply, { params, body }) => {
    const { runId, conversation } = await s.execute.start(
      request.principal,
      params.cid,
      body.content,
      body.agent,
    );
    if (!wantsEventStream(request)) return reply.code(202).send({ runId });
    // The run's id goes in a header too, so a client whose connection drops before the first
    // event can still resume with the events route.
    reply.raw.setHeader(RUN_ID_HEADER, runId);
    return streamRun(s, hub, reply, conversation, runId, 0);
  });

  route(app, ops.runEvents, async (request, reply, { params, query }) => {
    const after = resumePoint(request.headers['last-event-id'], query.after);
    const c = await s.catalog.getConversation(request.principal.tenant, params.cid);
    assertTicketWorkspace(request.ticket, c.workspaceId);
    return streamRun(s, hub, reply, c, params.rid, after);
  });

  route(app, ops.interruptRun, async (request, reply, { params }) => {
    await s.execute.interrupt(request.principal, params.cid, params.rid);
    return reply.code(202).send({ runId: params.rid, interrupting: true });
  });

  route(app, ops.listMessages, async (request, _reply, { params }) => {
    const c = await s.catalog.getConversation(request.principal.tenant, params.cid);
    const runs = await Promise.all(
      c.runs.map(async (run) => {
        const stored =
          run.status === 'running' || s.events.isLive(run.id)
            ? await s.events.read(run.id, 0)
            : await endedRunEvents(s, c, run.id, 0);
        return {
          runId: run.id,
          status: run.status,
          events: stored.map((e) => ({
            seq: e.seq,
            event: e.event,
            data: JSON.parse(e.data) as unknown,
          })),
        };
      }),
    );
    return { conversationId: c.id, runs };
  });
}
