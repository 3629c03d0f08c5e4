import { WorkcellError } from '@workcell/protocol';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { ConversationRecord } from '../../catalog/catalog.js';
import type { ApiServices } from '../context.js';
import { SseWriter } from '../sse.js';
import { parseBody } from '../validate.js';

export const createConversationBody = z.object({ title: z.string().min(1).max(500).optional() }).strict();
export const postMessageBody = z.object({ content: z.string().min(1) }).strict();

function conversationView(c: ConversationRecord): Record<string, unknown> {
  return { id: c.id, workspaceId: c.workspaceId, title: c.title, createdAt: c.createdAt };
}

function wantsEventStream(request: FastifyRequest): boolean {
  return (request.headers.accept ?? '').includes('text/event-stream');
}

/** `Last-Event-ID` header, else `?after=N`, else 0. */
function resumePoint(request: FastifyRequest<{ Querystring: { after?: string } }>): number {
  const raw = request.headers['last-event-id'] ?? request.query.after;
  if (raw === undefined || raw === '') return 0;
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (!/^\d{1,9}$/.test(String(value))) throw new WorkcellError('bad_request', 'Last-Event-ID / after must be a non-negative integer');
  return Number(value);
}

/**
 * Streams a run's events from `after` as SSE: from the live buffer while the run lives, from
 * the object store once it has ended. The client going away does not touch the run.
 */
async function streamRun(s: ApiServices, reply: FastifyReply, conversation: ConversationRecord, runId: string, after: number): Promise<void> {
  reply.hijack();
  const sse = new SseWriter(reply.raw);
  const abort = new AbortController();
  reply.raw.on('close', () => abort.abort());
  try {
    const run = s.catalog.getRun(conversation, runId);
    const buffered = await s.events.read(runId, after);
    if (run.status !== 'running' && buffered.length === 0) {
      for (const e of await s.catalog.readRunEvents(conversation, runId)) if (e.seq > after) sse.send(e);
      return;
    }
    for await (const e of s.events.follow(runId, after, abort.signal)) {
      if (!sse.send(e) && sse.isClosed) break;
    }
  } catch (err) {
    s.logger.warn({ runId, err: String(err) }, 'event stream ended with an error');
  } finally {
    sse.end();
  }
}

export function registerConversationRoutes(app: FastifyInstance, s: ApiServices): void {
  app.post<{ Params: { wid: string } }>('/v1/workspaces/:wid/conversations', async (request, reply) => {
    const body = parseBody(createConversationBody, request.body ?? {});
    const c = await s.catalog.createConversation(request.principal.tenant, request.params.wid, body.title);
    return reply.code(201).send(conversationView(c));
  });

  app.get<{ Params: { wid: string } }>('/v1/workspaces/:wid/conversations', async (request) => {
    const list = await s.catalog.listConversations(request.principal.tenant, request.params.wid);
    return { conversations: list.map(conversationView) };
  });

  app.get<{ Params: { cid: string } }>('/v1/conversations/:cid', async (request) => {
    const c = await s.catalog.getConversation(request.principal.tenant, request.params.cid);
    return { ...conversationView(c), sessionId: c.sessionId, runs: c.runs };
  });

  app.post<{ Params: { cid: string } }>('/v1/conversations/:cid/messages', async (request, reply) => {
    const body = parseBody(postMessageBody, request.body);
    const { runId, conversation } = await s.execute.start(request.principal, request.params.cid, body.content);
    if (!wantsEventStream(request)) return reply.code(202).send({ runId });
    await streamRun(s, reply, conversation, runId, 0);
    return reply;
  });

  app.get<{ Params: { cid: string; rid: string }; Querystring: { after?: string } }>(
    '/v1/conversations/:cid/runs/:rid/events',
    async (request, reply) => {
      const after = resumePoint(request);
      const c = await s.catalog.getConversation(request.principal.tenant, request.params.cid);
      s.catalog.getRun(c, request.params.rid);
      await streamRun(s, reply, c, request.params.rid, after);
      return reply;
    },
  );

  app.post<{ Params: { cid: string; rid: string } }>('/v1/conversations/:cid/runs/:rid/interrupt', async (request, reply) => {
    await s.execute.interrupt(request.principal, request.params.cid, request.params.rid);
    return reply.code(202).send({ runId: request.params.rid, interrupting: true });
  });

  app.get<{ Params: { cid: string } }>('/v1/conversations/:cid/messages', async (request) => {
    const c = await s.catalog.getConversation(request.principal.tenant, request.params.cid);
    const runs = await Promise.all(
      c.runs.map(async (run) => {
        const stored = run.status === 'running' ? await s.events.read(run.id, 0) : await s.catalog.readRunEvents(c, run.id);
        return {
          runId: run.id,
          status: run.status,
          events: stored.map((e) => ({ seq: e.seq, event: e.event, data: JSON.parse(e.data) as unknown })),
        };
      }),
    );
    return { conversationId: c.id, runs };
  });
}
