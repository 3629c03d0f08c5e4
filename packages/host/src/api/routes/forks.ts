import type { FastifyInstance } from 'fastify';
import type { ConversationRecord } from '../../catalog/catalog.js';
import type { ApiServices } from '../context.js';
import { ops, route } from '../contract.js';

function conversationView(c: ConversationRecord): {
  id: string;
  workspaceId: string;
  title: string;
  createdAt: string;
} {
  return { id: c.id, workspaceId: c.workspaceId, title: c.title, createdAt: c.createdAt };
}

/** `POST /v1/workspaces/:wid/fork`, `POST /v1/conversations/:cid/fork|rewind`. */
export function registerForkRoutes(app: FastifyInstance, s: ApiServices): void {
  route(app, ops.forkWorkspace, async (request, reply, { params, body }) => {
    const forked = await s.forks.forkWorkspace(request.principal.tenant, params.wid, body);
    const w = forked.workspace;
    return reply.code(201).send({
      workspace: { id: w.id, name: w.name, createdAt: w.createdAt },
      conversations: forked.conversations,
    });
  });

  route(app, ops.forkConversation, async (request, reply, { params, body }) => {
    const c = await s.forks.forkConversation(request.principal.tenant, params.cid, body.atRunId);
    return reply.code(201).send(conversationView(c));
  });

  route(app, ops.rewindConversation, async (request, _reply, { params, body }) => {
    const r = await s.forks.rewind(request.principal.tenant, params.cid, body);
    return {
      conversation: conversationView(r.conversation),
      toRunId: r.toRunId,
      rewoundRunIds: r.rewoundRunIds,
      snapshotId: r.snapshotId,
    };
  });
}
