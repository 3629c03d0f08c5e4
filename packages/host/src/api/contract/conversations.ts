import {
  conversationDetailSchema,
  conversationSchema,
  createConversationBody,
  pageQuery,
  runSchema,
} from '@workcell/protocol';
import { z } from 'zod';
import { op, wsParams, convParams, nextCursor, PAGE_400 } from './operation.js';

/** Conversations of a workspace and the list of their runs. */
export const conversationOps = {
  createConversation: op({
    id: 'createConversation',
    method: 'POST',
    path: '/v1/workspaces/:wid/conversations',
    summary: 'Start a conversation in a workspace',
    tag: 'conversations',
    auth: 'bearer',
    params: wsParams,
    body: createConversationBody,
    responses: { 201: { description: 'created', schema: conversationSchema } },
  }),
  listConversations: op({
    id: 'listConversations',
    method: 'GET',
    path: '/v1/workspaces/:wid/conversations',
    summary: "List a workspace's conversations, oldest first, a page at a time",
    tag: 'conversations',
    auth: 'bearer',
    params: wsParams,
    query: pageQuery,
    responses: {
      200: {
        description: 'the conversations',
        schema: z.object({ conversations: z.array(conversationSchema), nextCursor }),
      },
      400: PAGE_400,
    },
  }),
  listRuns: op({
    id: 'listRuns',
    method: 'GET',
    path: '/v1/conversations/:cid/runs',
    summary: "A conversation's runs, oldest first, a page at a time",
    tag: 'runs',
    auth: 'bearer',
    params: convParams,
    query: pageQuery,
    responses: {
      200: {
        description: 'the runs',
        schema: z.object({ runs: z.array(runSchema), nextCursor }),
      },
      400: PAGE_400,
    },
  }),
  getConversation: op({
    id: 'getConversation',
    method: 'GET',
    path: '/v1/conversations/:cid',
    summary: 'A conversation and its runs',
    tag: 'conversations',
    auth: 'bearer',
    params: convParams,
    responses: { 200: { description: 'the conversation', schema: conversationDetailSchema } },
  }),
} as const;
