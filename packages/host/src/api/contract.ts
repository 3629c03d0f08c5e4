import {
  approvalSchema,
  adminContainerSchema,
  archiveUploadSchema,
  containerSchema,
  conversationDetailSchema,
  conversationSchema,
  createdWebhookSchema,
  egressViewSchema,
  errorResponseSchema,
  fileEntrySchema,
  forkedWorkspaceSchema,
  healthSchema,
  readinessSchema,
  rewoundConversationSchema,
  runSchema,
  secretListSchema,
  secretViewSchema,
  snapshotSchema,
  ticketSchema,
  usageSchema,
  webhookListSchema,
  webhookPayloadSchema,
  webhookSchema,
  workspaceAgentSchema,
  workspaceDetailSchema,
  workspaceSchema,
} from '@workcell/protocol';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { adminOps } from './contract/admin.js';
import { agentOps } from './contract/agent.js';
import { approvalOps } from './contract/approvals.js';
import { archiveOps } from './contract/archive.js';
import { conversationOps } from './contract/conversations.js';
import { egressOps } from './contract/egress.js';
import { execOps } from './contract/exec.js';
import { fileOps } from './contract/files.js';
import { forkOps } from './contract/forks.js';
import { operationsOps } from './contract/operations.js';
import { runOps } from './contract/runs.js';
import { secretOps } from './contract/secrets.js';
import { snapshotOps } from './contract/snapshots.js';
import { terminalOps } from './contract/terminal.js';
import { ticketOps } from './contract/tickets.js';
import { usageOps } from './contract/usage.js';
import { webhookOps } from './contract/webhooks.js';
import { workspaceOps } from './contract/workspaces.js';
import type { Operation } from './contract/operation.js';
import { MANAGED_AGENTS_OPERATIONS } from '../managed-agents/operations.js';
import { parseInput } from './validate.js';

export type { Operation, ResponseSpec } from './contract/operation.js';

/**
 * The HTTP API as data: every operation's method, path, input schemas (zod, the ones the
 * routes validate with) and response schemas, one file per resource under `contract/`.
 * `/openapi.json` is generated from this table, in its order, and the OpenAPI test checks that
 * it names every route the server has.
 */
export const ops = {
  // A new resource is a file under contract/ and one line here, where /openapi.json lists it.
  ...workspaceOps,
  ...agentOps,
  ...usageOps,
  ...fileOps,
  ...execOps,
  ...archiveOps,
  ...snapshotOps,
  ...forkOps,
  ...egressOps,
  ...secretOps,
  ...conversationOps,
  ...runOps,
  ...approvalOps,
  ...terminalOps,
  ...webhookOps,
  ...ticketOps,
  ...adminOps,
  ...operationsOps,
} as const;

export const OPERATIONS: readonly Operation[] = [
  ...Object.values(ops),
  // Anthropic's Managed Agents API, served beside Workcell's own (managed-agents/).
  ...MANAGED_AGENTS_OPERATIONS,
];

/** Response shapes that get a name of their own in the OpenAPI components. */
export const NAMED_SCHEMAS: Readonly<Record<string, z.ZodType>> = {
  Error: errorResponseSchema,
  Workspace: workspaceSchema,
  Container: containerSchema,
  WorkspaceDetail: workspaceDetailSchema,
  FileEntry: fileEntrySchema,
  ArchiveUpload: archiveUploadSchema,
  Conversation: conversationSchema,
  Run: runSchema,
  ConversationDetail: conversationDetailSchema,
  Health: healthSchema,
  Readiness: readinessSchema,
  AdminContainer: adminContainerSchema,
  EgressView: egressViewSchema,
  Secret: secretViewSchema,
  SecretList: secretListSchema,
  WorkspaceAgent: workspaceAgentSchema,
  Usage: usageSchema,
  Webhook: webhookSchema,
  CreatedWebhook: createdWebhookSchema,
  Ticket: ticketSchema,
  Approval: approvalSchema,
  WebhookList: webhookListSchema,
  WebhookPayload: webhookPayloadSchema,
  Snapshot: snapshotSchema,
  ForkedWorkspace: forkedWorkspaceSchema,
  RewoundConversation: rewoundConversationSchema,
};

// ---- registering a route from its operation ---------------------------------------------------

type Parsed<S> = S extends z.ZodType ? z.output<S> : undefined;

/** A handler's validated input. */
export interface Input<O extends Operation> {
  params: Parsed<O['params']>;
  query: Parsed<O['query']>;
  body: Parsed<O['body']>;
}

/**
 * Registers `op` on `app`: method and path from the table, path parameters, query and JSON
 * body validated with its schemas (400 `validation_failed` naming the field).
 */
export function route<O extends Operation>(
  app: FastifyInstance,
  operation: O,
  handler: (request: FastifyRequest, reply: FastifyReply, input: Input<O>) => Promise<unknown>,
): void {
  app.route({
    method: operation.method,
    url: operation.path,
    config: { newWork: operation.newWork === true },
    handler: async (request, reply) => {
      const input = {
        params: operation.params ? parseInput(operation.params, request.params, 'path') : undefined,
        query: operation.query ? parseInput(operation.query, request.query, 'query') : undefined,
        body: operation.body ? parseInput(operation.body, request.body ?? {}, 'body') : undefined,
      } as Input<O>;
      return handler(request, reply, input);
    },
  });
}
