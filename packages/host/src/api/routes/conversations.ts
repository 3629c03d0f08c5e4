import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { assertTicketWorkspace } from '../../auth/tickets.js';
import { runView, type ConversationRecord } from '../../catalog/catalog.js';
import { creationKey, nextCursor, pageOf, pageRequest } from '../../catalog/page.js';
import { RunHistory } from '../../execute/run-history.js';
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
  const history = new RunHistory(s);
  let replay: BufferedEvent[] | null = null;
  if (history.hasEnded(conversation, runId)) {
    replay = await history.ended(conversation, runId, after);
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
  try {
    const batches = replay ? [replay] : history.follow(conversation, runId, after, abort.signal);
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
    return { runs: page.items.map(runView), nextCursor: nextCursor('runs', page) };
  });

  route(app, ops.getConversation, async (request, _reply, { params }) => {
    const c = await s.catalog.getConversation(request.principal.tenant, params.cid);
    return { ...conversationView(c), sessionId: c.sessionId, runs: c.runs.map(runView) };
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
    const history = new RunHistory(s);
    const runs = await Promise.all(
      c.runs.map(async (run) => {
        const stored = await history.all(c, run.id);
        return {
          runId: run.id,
          status: run.status,
          rewound: run.rewound === true,
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
