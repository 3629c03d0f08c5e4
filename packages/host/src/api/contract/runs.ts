import {
  conversationHistorySchema,
  errorResponseSchema,
  eventsQuery,
  interruptAcceptedSchema,
  postMessageBody,
  runAcceptedSchema,
} from '@workcell/protocol';
import { z } from 'zod';
import { op, idParam, convParams, TICKET_REFUSED } from './operation.js';

const SSE_DESCRIPTION =
  "Server-Sent Events. `id:` is the event's sequence number in its run; `event:` is `run.started` " +
  '(`{runId, conversationId, workspaceId, agent}`: `agent` is the effective agent settings, MCP header values redacted), ' +
  '`user.message` (`{content}` as sent, right after `run.started`), ' +
  '`message` (one Claude Agent SDK message, `stream_event` partials included), ' +
  '`approval.requested` (`{approvalId, toolUseId, toolName, input}`: a tool call waits for a decision), ' +
  '`approval.resolved` (`{approvalId, decision, reason}`, reason `client`, `timeout` or `interrupt`), ' +
  '`tool.requested` (`{callId, name, input}`: a client tool call waits for its result), `tool.resolved` (`{callId, isError, reason}`), ' +
  '`run.completed` (the result summary) or `run.failed` (`{code, message}`). A comment line is sent every 15 s. ' +
  'Clients should ignore event names they do not know.';

const runParams = z.object({ cid: idParam('conversation'), rid: idParam('run') });

/** Runs: a message starts one; its events, history and interruption. */
export const runOps = {
  postMessage: op({
    id: 'postMessage',
    newWork: true,
    method: 'POST',
    path: '/v1/conversations/:cid/messages',
    summary: 'Send a message: starts a run',
    description:
      'With `Accept: text/event-stream` the run streams back on this response; otherwise the answer is 202 with the run id ' +
      '(follow it with the events route). The run goes on if the client disconnects.',
    tag: 'runs',
    auth: 'bearer',
    params: convParams,
    body: postMessageBody,
    responses: {
      200: { description: SSE_DESCRIPTION, contentType: 'text/event-stream' },
      400: {
        description:
          '`validation_failed`, or a setting the operator does not allow: `model_not_allowed`, `system_prompt_not_allowed`, `env_not_allowed`',
        schema: errorResponseSchema,
      },
      202: { description: 'accepted', schema: runAcceptedSchema },
      409: {
        description: '`workspace_busy`: a run is in progress in the workspace',
        schema: errorResponseSchema,
      },
      413: { description: 'the message is over the size limit', schema: errorResponseSchema },
      503: {
        description:
          '`shutting_down`: the host takes no new runs; `host_at_capacity`: the host runs its maximum of containers and none is idle (see `Retry-After`; another host may have room)',
        schema: errorResponseSchema,
      },
    },
  }),
  listMessages: op({
    id: 'listMessages',
    method: 'GET',
    path: '/v1/conversations/:cid/messages',
    summary: 'The recorded events of every run, in order',
    tag: 'runs',
    auth: 'bearer',
    params: convParams,
    responses: {
      200: {
        description: 'the runs and their events',
        schema: conversationHistorySchema,
      },
    },
  }),
  runEvents: op({
    id: 'runEvents',
    method: 'GET',
    path: '/v1/conversations/:cid/runs/:rid/events',
    summary: "A run's events as SSE, resumable",
    description:
      'Replays the events after `Last-Event-ID` (or `?after=N`), then follows the run live until its terminal event. ' +
      'Answers 204 when the run has ended and there is nothing after that point (an EventSource then stops reconnecting).',
    tag: 'runs',
    auth: 'bearer-or-query',
    params: runParams,
    query: eventsQuery,
    responses: {
      200: { description: SSE_DESCRIPTION, contentType: 'text/event-stream' },
      204: { description: 'the run has ended and no event follows the resume point' },
      401: { description: TICKET_REFUSED, schema: errorResponseSchema },
    },
  }),
  interruptRun: op({
    id: 'interruptRun',
    method: 'POST',
    path: '/v1/conversations/:cid/runs/:rid/interrupt',
    summary: 'Interrupt a run: it ends with run.completed marked interrupted',
    tag: 'runs',
    auth: 'bearer',
    params: runParams,
    responses: {
      202: {
        description: 'interrupting',
        schema: interruptAcceptedSchema,
      },
      409: { description: 'the run is not in progress on this host', schema: errorResponseSchema },
    },
  }),
} as const;
