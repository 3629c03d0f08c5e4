import {
  approvalDecisionBody,
  approvalListSchema,
  approvalSchema,
  errorResponseSchema,
  pageQuery,
  toolResultBody,
} from '@workcell/protocol';
import { z } from 'zod';
import { PAGE_400, convParams, idParam, op } from './operation.js';

/** Approvals and client tool calls of a conversation's runs. */
export const approvalOps = {
  listApprovals: op({
    id: 'listApprovals',
    method: 'GET',
    path: '/v1/conversations/:cid/approvals',
    summary:
      "A conversation's approvals and client tool calls (pending and decided), oldest first, a page at a time",
    tag: 'runs',
    auth: 'bearer',
    params: convParams,
    query: pageQuery,
    responses: {
      200: { description: 'the approvals', schema: approvalListSchema },
      400: PAGE_400,
      404: { description: 'no such conversation for this tenant', schema: errorResponseSchema },
    },
  }),
  decideApproval: op({
    id: 'decideApproval',
    method: 'POST',
    path: '/v1/conversations/:cid/approvals/:approvalId',
    summary: 'Allow or deny a tool call that waits for a decision',
    description:
      "An allowed call runs with `updatedInput` when given (checked against the tool's input schema where it is known); a denied call does not run and the model is told, with `message`. The run's stream then shows `approval.resolved`.",
    tag: 'runs',
    auth: 'bearer',
    params: z.object({ cid: idParam('conversation'), approvalId: idParam('approval') }),
    body: approvalDecisionBody,
    responses: {
      200: { description: 'decided', schema: approvalSchema },
      400: {
        description:
          '`validation_failed` (a malformed body, or `updatedInput` that does not fit the tool) or `invalid_json`; nothing is recorded',
        schema: errorResponseSchema,
      },
      404: {
        description: 'no such approval in this conversation for this tenant',
        schema: errorResponseSchema,
      },
      409: {
        description: '`approval_decided`: it was decided before',
        schema: errorResponseSchema,
      },
    },
  }),
  sendToolResult: op({
    id: 'sendToolResult',
    method: 'POST',
    path: '/v1/conversations/:cid/tool-results/:callId',
    summary: 'Deliver the result of a client tool call (`tool.requested`)',
    tag: 'runs',
    auth: 'bearer',
    params: z.object({ cid: idParam('conversation'), callId: idParam('tool call') }),
    body: toolResultBody,
    responses: {
      200: { description: 'delivered', schema: approvalSchema },
      400: {
        description: '`validation_failed` or `invalid_json`; nothing is recorded',
        schema: errorResponseSchema,
      },
      404: {
        description: 'no such tool call in this conversation for this tenant',
        schema: errorResponseSchema,
      },
      409: {
        description: '`tool_call_answered`: it has a result already',
        schema: errorResponseSchema,
      },
    },
  }),
} as const;
