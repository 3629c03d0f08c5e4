import type { FastifyInstance } from 'fastify';
import { pageRequest } from '../../catalog/page.js';
import type { ApiServices } from '../context.js';
import { ops, route } from '../contract.js';

/**
 * Approvals and client tool calls: a conversation's list, a decision, a tool result. Each is
 * bound to the caller's tenant and the conversation in the path (`approvals/`).
 */
export function registerApprovalRoutes(app: FastifyInstance, s: ApiServices): void {
  route(app, ops.listApprovals, async (request, _reply, { params, query }) =>
    s.approvals.list(request.principal.tenant, params.cid, pageRequest('approvals', query)),
  );

  route(app, ops.decideApproval, async (request, _reply, { params, body }) =>
    s.approvals.decide(request.principal.tenant, params.cid, params.approvalId, body),
  );

  route(app, ops.sendToolResult, async (request, _reply, { params, body }) =>
    s.approvals.sendResult(request.principal.tenant, params.cid, params.callId, body),
  );
}
