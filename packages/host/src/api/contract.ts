import {
  adminContainerSchema,
  archiveQuery,
  archiveUploadSchema,
  containerSchema,
  conversationDetailSchema,
  conversationHistorySchema,
  conversationSchema,
  createConversationBody,
  createdWebhookSchema,
  createWebhookBody,
  createTicketBody,
  createWorkspaceBody,
  egressViewSchema,
  errorResponseSchema,
  execBody,
  execResultSchema,
  eventsQuery,
  fileEntrySchema,
  filesQuery,
  healthSchema,
  interruptAcceptedSchema,
  pageQuery,
  postMessageBody,
  putAgentBody,
  putEgressBody,
  readinessSchema,
  runAcceptedSchema,
  runSchema,
  secretListSchema,
  restoreWorkspaceBody,
  snapshotListSchema,
  snapshotSchema,
  terminalQuery,
  ticketSchema,
  secretViewSchema,
  usageQuery,
  usageSchema,
  webhookListSchema,
  webhookPayloadSchema,
  webhookSchema,
  workspaceAgentSchema,
  workspaceDetailSchema,
  workspaceSchema,
  writtenFileSchema,
} from '@workcell/protocol';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { TICKETS_PER_TENANT_PER_TTL } from '../auth/tickets.js';
import { putSecretBody } from '../secrets/input.js';
import { parseInput } from './validate.js';

/**
 * The HTTP API as data: every operation's method, path, input schemas (zod, the ones the
 * routes validate with) and response schemas. `/openapi.json` is generated from this table,
 * and the OpenAPI test checks that it names every route the server has.
 */

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface ResponseSpec {
  description: string;
  /** JSON body; omit for an empty body or a non-JSON `contentType`. */
  schema?: z.ZodType;
  contentType?: string;
}

export interface Operation {
  readonly id: string;
  readonly method: Method;
  /** The Fastify path (`:param`, a trailing `*` for the rest of the path). */
  readonly path: string;
  readonly summary: string;
  readonly description?: string;
  readonly tag:
    | 'workspaces'
    | 'agent'
    | 'files'
    | 'exec'
    | 'archives'
    | 'conversations'
    | 'runs'
    | 'usage'
    | 'snapshots'
    | 'terminal'
    | 'egress'
    | 'secrets'
    | 'webhooks'
    | 'tickets'
    | 'admin'
    | 'operations';
  /**
   * `bearer`: a tenant token; `bearer-or-query`: also a single-use `?ticket=` (browsers'
   * EventSource and WebSocket) or, kept for older clients, `?access_token=`; `admin`: an admin token.
   */
  readonly auth: 'none' | 'bearer' | 'bearer-or-query' | 'admin';
  readonly params?: z.ZodObject;
  readonly query?: z.ZodObject;
  /** A JSON body. */
  readonly body?: z.ZodType;
  /** A raw (non-JSON) body. */
  readonly rawBody?: { contentType: string; description: string };
  readonly responses: Readonly<Record<number, ResponseSpec>>;
}

const op = <const O extends Operation>(o: O): O => o;

// ---- shared shapes --------------------------------------------------------------------------
// The shapes themselves live in @workcell/protocol (api.ts), where the client takes its types.

const idParam = (what: string) => z.string().describe(`the ${what} id`);

const SSE_DESCRIPTION =
  "Server-Sent Events. `id:` is the event's sequence number in its run; `event:` is `run.started` " +
  '(`{runId, conversationId, workspaceId, agent}`: `agent` is the effective agent settings, MCP header values redacted), ' +
  '`user.message` (`{content}` as sent, right after `run.started`), ' +
  '`message` (one Claude Agent SDK message, `stream_event` partials included), ' +
  '`run.completed` (the result summary) or `run.failed` (`{code, message}`). A comment line is sent every 15 s. ' +
  'Clients should ignore event names they do not know.';

const TICKET_REFUSED =
  '`unauthorized` (no valid token) or `ticket_invalid`: the ticket is unknown, expired, already used, ' +
  'or was issued for another workspace or purpose';

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
  WebhookList: webhookListSchema,
  WebhookPayload: webhookPayloadSchema,
  Snapshot: snapshotSchema,
};

// ---- request parameters ---------------------------------------------------------------------

const wsParams = z.object({ wid: idParam('workspace') });
const secretName = z.string().describe('the secret name: a letter, then letters, digits or _');
const wsSecretParams = z.object({ wid: idParam('workspace'), name: secretName });
const secretParams = z.object({ name: secretName });
const SECRETS_501 = {
  description: 'secrets are not enabled (no WORKCELL_SECRETS_KEY)',
  schema: errorResponseSchema,
};
const fileParams = z.object({
  wid: idParam('workspace'),
  '*': z.string().describe('the file path inside the workspace'),
});
const convParams = z.object({ cid: idParam('conversation') });

const EXEC_SSE_DESCRIPTION =
  'Server-Sent Events: `stdout` and `stderr` (`{data}`, UTF-8 text, as the command writes it), then one `exit` ' +
  '(`{code, signal, durationMs, timedOut, error?}`), and the stream ends. Not resumable: a client that goes away kills the command.';

const nextCursor = z
  .string()
  .nullable()
  .describe('pass as `cursor` for the next page; null on the last page');
const PAGE_400 = {
  description:
    '`invalid_cursor` (a cursor this list did not hand out) or `validation_failed` (a limit outside 1-1000)',
  schema: errorResponseSchema,
};
const runParams = z.object({ cid: idParam('conversation'), rid: idParam('run') });

// ---- operations -----------------------------------------------------------------------------

export const ops = {
  createWorkspace: op({
    id: 'createWorkspace',
    method: 'POST',
    path: '/v1/workspaces',
    summary: 'Create a workspace',
    tag: 'workspaces',
    auth: 'bearer',
    body: createWorkspaceBody,
    responses: {
      201: { description: 'created', schema: workspaceSchema },
      400: {
        description:
          '`validation_failed` or a refused agent setting (`model_not_allowed`, ...); no workspace is created',
        schema: errorResponseSchema,
      },
    },
  }),
  listWorkspaces: op({
    id: 'listWorkspaces',
    method: 'GET',
    path: '/v1/workspaces',
    summary: "List the tenant's workspaces, oldest first, a page at a time",
    tag: 'workspaces',
    auth: 'bearer',
    query: pageQuery,
    responses: {
      200: {
        description: 'the workspaces',
        schema: z.object({ workspaces: z.array(workspaceSchema), nextCursor }),
      },
      400: PAGE_400,
    },
  }),
  getWorkspace: op({
    id: 'getWorkspace',
    method: 'GET',
    path: '/v1/workspaces/:wid',
    summary: 'A workspace and its container',
    tag: 'workspaces',
    auth: 'bearer',
    params: wsParams,
    responses: { 200: { description: 'the workspace', schema: workspaceDetailSchema } },
  }),
  deleteWorkspace: op({
    id: 'deleteWorkspace',
    method: 'DELETE',
    path: '/v1/workspaces/:wid',
    summary: 'Delete a workspace, its container and its data',
    tag: 'workspaces',
    auth: 'bearer',
    params: wsParams,
    responses: {
      204: { description: 'deleted' },
      409: { description: 'a run is in progress', schema: errorResponseSchema },
    },
  }),
  getAgent: op({
    id: 'getAgent',
    method: 'GET',
    path: '/v1/workspaces/:wid/agent',
    summary: "A workspace's agent settings and the effective settings with the operator's defaults",
    tag: 'agent',
    auth: 'bearer',
    params: wsParams,
    responses: { 200: { description: 'the settings', schema: workspaceAgentSchema } },
  }),
  putAgent: op({
    id: 'putAgent',
    method: 'PUT',
    path: '/v1/workspaces/:wid/agent',
    summary: "Replace a workspace's agent settings (applies from the next message)",
    description:
      "The body is the workspace's whole settings object (`{}` clears them). A bad setting answers 400 " +
      '(`validation_failed`, `model_not_allowed`, `system_prompt_not_allowed`, `env_not_allowed`) and nothing changes. ' +
      "The hosts of `mcpServers` join the workspace's egress policy.",
    tag: 'agent',
    auth: 'bearer',
    params: wsParams,
    body: putAgentBody,
    responses: { 200: { description: 'the new settings', schema: workspaceAgentSchema } },
  }),
  workspaceUsage: op({
    id: 'workspaceUsage',
    method: 'GET',
    path: '/v1/workspaces/:wid/usage',
    summary: "A workspace's tokens, cost and run time per day and model",
    tag: 'usage',
    auth: 'bearer',
    params: wsParams,
    query: usageQuery,
    responses: { 200: { description: 'the usage', schema: usageSchema } },
  }),
  tenantUsage: op({
    id: 'tenantUsage',
    method: 'GET',
    path: '/v1/usage',
    summary: "The tenant's tokens, cost and run time per day and model, over every workspace",
    tag: 'usage',
    auth: 'bearer',
    query: usageQuery,
    responses: { 200: { description: 'the usage', schema: usageSchema } },
  }),
  listFiles: op({
    id: 'listFiles',
    method: 'GET',
    path: '/v1/workspaces/:wid/files',
    summary: "List a workspace's files by path, a page at a time",
    tag: 'files',
    auth: 'bearer',
    params: wsParams,
    query: filesQuery,
    responses: {
      200: {
        description: 'the files',
        schema: z.object({ files: z.array(fileEntrySchema), nextCursor }),
      },
      400: PAGE_400,
    },
  }),
  getFile: op({
    id: 'getFile',
    method: 'GET',
    path: '/v1/workspaces/:wid/files/*',
    summary: "A file's bytes (Range and If-None-Match supported)",
    tag: 'files',
    auth: 'bearer',
    params: fileParams,
    responses: {
      200: { description: 'the bytes', contentType: 'application/octet-stream' },
      206: { description: 'the requested range', contentType: 'application/octet-stream' },
      304: { description: 'not modified' },
      416: { description: 'range not satisfiable', schema: errorResponseSchema },
    },
  }),
  putFile: op({
    id: 'putFile',
    method: 'PUT',
    path: '/v1/workspaces/:wid/files/*',
    summary: 'Write a file',
    tag: 'files',
    auth: 'bearer',
    params: fileParams,
    rawBody: {
      contentType: 'application/octet-stream',
      description: 'the bytes, whatever the content type',
    },
    responses: {
      201: {
        description: 'written',
        schema: writtenFileSchema,
      },
      413: { description: 'over the file size limit', schema: errorResponseSchema },
    },
  }),
  deleteFile: op({
    id: 'deleteFile',
    method: 'DELETE',
    path: '/v1/workspaces/:wid/files/*',
    summary: 'Delete a file',
    tag: 'files',
    auth: 'bearer',
    params: fileParams,
    responses: { 204: { description: 'deleted' } },
  }),
  exec: op({
    id: 'exec',
    method: 'POST',
    path: '/v1/workspaces/:wid/exec',
    summary: "Run a command in the workspace's container",
    description:
      "Runs `command` (argv, no shell) in the container a message would use, as the agent's tools run: uid 1000, no network " +
      "but the proxy, the container's limits, the agent's environment with the workspace's secret placeholders. Files are synced " +
      'in before and out after: what it changes in `/workspace` is saved when it ends. It holds the workspace like a run (a message ' +
      'or another exec meanwhile answers 409 `workspace_busy`). A timeout, or the client going away, kills it and every process it ' +
      'started; so does its own end (a background child does not outlive it). With `Accept: text/event-stream` the output streams; ' +
      'otherwise the answer comes when it ends, its output capped at `WORKCELL_EXEC_MAX_OUTPUT_BYTES` per stream.',
    tag: 'exec',
    auth: 'bearer',
    params: wsParams,
    body: execBody,
    responses: {
      200: {
        description: `the command ended (JSON), or, streamed: ${EXEC_SSE_DESCRIPTION}`,
        schema: execResultSchema,
      },
      400: {
        description:
          '`validation_failed` (argv, timeout over the maximum, ...), `invalid_path` (a cwd outside /workspace), `env_not_allowed`',
        schema: errorResponseSchema,
      },
      404: { description: "no such workspace (or another tenant's)", schema: errorResponseSchema },
      409: {
        description: '`workspace_busy`: a run or a command is in progress in the workspace',
        schema: errorResponseSchema,
      },
      502: {
        description: '`sync_failed` or `container_failed`: the command could not be started',
        schema: errorResponseSchema,
      },
      503: {
        description: '`container_start_failed`, `shutting_down`, `host_at_capacity`',
        schema: errorResponseSchema,
      },
    },
  }),
  downloadArchive: op({
    id: 'downloadArchive',
    method: 'GET',
    path: '/v1/workspaces/:wid/archive',
    summary:
      "The workspace's files as one archive: tar.gz, zip with `Accept: application/zip`, or uncompressed tar with `Accept: application/x-tar`",
    description:
      'Streamed from the object store file by file (the files API view: regular files, executable bits and ' +
      'modification times kept). `?path=` limits it to a folder, entries named relative to it; a hostile ' +
      '`path` answers `invalid_path`, a folder without files `not_found`.',
    tag: 'archives',
    auth: 'bearer',
    params: wsParams,
    query: archiveQuery,
    responses: {
      200: {
        description: 'the archive (application/gzip, application/zip or application/x-tar)',
        contentType: 'application/gzip',
      },
      400: { description: '`invalid_path`: a hostile `path`', schema: errorResponseSchema },
      404: {
        description: 'no such workspace, or no file under `path`',
        schema: errorResponseSchema,
      },
    },
  }),
  uploadArchive: op({
    id: 'uploadArchive',
    method: 'POST',
    path: '/v1/workspaces/:wid/archive',
    summary: 'Unpack a tar, tar.gz or zip into the workspace (or the folder `?path=`)',
    description:
      'The format comes from `Content-Type` (`application/x-tar`, `application/gzip`, `application/zip`) or, for ' +
      '`application/octet-stream`, from the first bytes. Files replace files of the same path; folders are implied. ' +
      'Every entry is checked before anything is written, so a refused archive changes nothing: entries that leave the ' +
      'folder (`..`, absolute, backslash, drive letter) `archive_unsafe_path`; symbolic or hard links ' +
      '`archive_link_refused`; devices and fifos `archive_special_file`; a path twice or as file and folder ' +
      '`archive_duplicate_path`; past the entry, unpacked-size, ratio or file-size limits `archive_too_large`. ' +
      'Like file uploads it waits for no run: a workspace with a run in progress answers `workspace_busy`.',
    tag: 'archives',
    auth: 'bearer',
    params: wsParams,
    query: archiveQuery,
    rawBody: {
      contentType: 'application/octet-stream',
      description: 'the archive: tar, tar.gz (gzip) or zip',
    },
    responses: {
      200: { description: 'unpacked', schema: archiveUploadSchema },
      400: {
        description:
          '`archive_invalid`, `archive_unsafe_path`, `archive_link_refused`, `archive_special_file`, `archive_duplicate_path`, `invalid_path`',
        schema: errorResponseSchema,
      },
      409: {
        description:
          '`workspace_busy` (a run is in progress) or `conflict` (a path clashes with a file or folder of the workspace)',
        schema: errorResponseSchema,
      },
      413: {
        description: '`payload_too_large` (the body) or `archive_too_large` (what it unpacks to)',
        schema: errorResponseSchema,
      },
      415: {
        description: '`unsupported_media_type`: a content type that is no archive',
        schema: errorResponseSchema,
      },
      503: {
        description:
          '`host_at_capacity`: the host is unpacking its maximum of archives (`WORKCELL_ARCHIVE_MAX_UPLOADS`); see `Retry-After`',
        schema: errorResponseSchema,
      },
    },
  }),
  getEgress: op({
    id: 'getEgress',
    method: 'GET',
    path: '/v1/workspaces/:wid/egress',
    summary: "A workspace's egress policy and recent proxy decisions",
    tag: 'egress',
    auth: 'bearer',
    params: wsParams,
    responses: { 200: { description: 'the policy', schema: egressViewSchema } },
  }),
  putEgress: op({
    id: 'putEgress',
    method: 'PUT',
    path: '/v1/workspaces/:wid/egress',
    summary: "Narrow the operator's egress list for a workspace (null restores it)",
    tag: 'egress',
    auth: 'bearer',
    params: wsParams,
    body: putEgressBody,
    responses: { 200: { description: 'the new policy', schema: egressViewSchema } },
  }),
  listWorkspaceSecrets: op({
    id: 'listWorkspaceSecrets',
    method: 'GET',
    path: '/v1/workspaces/:wid/secrets',
    summary: "The secrets a workspace sees (its own and the tenant's); never their values",
    tag: 'secrets',
    auth: 'bearer',
    params: wsParams,
    responses: { 200: { description: 'the secrets', schema: secretListSchema }, 501: SECRETS_501 },
  }),
  getWorkspaceSecret: op({
    id: 'getWorkspaceSecret',
    method: 'GET',
    path: '/v1/workspaces/:wid/secrets/:name',
    summary: 'One secret a workspace sees; never its value',
    tag: 'secrets',
    auth: 'bearer',
    params: wsSecretParams,
    responses: { 200: { description: 'the secret', schema: secretViewSchema }, 501: SECRETS_501 },
  }),
  putWorkspaceSecret: op({
    id: 'putWorkspaceSecret',
    method: 'PUT',
    path: '/v1/workspaces/:wid/secrets/:name',
    summary: 'Create or replace a workspace secret (a new value applies to the next request)',
    tag: 'secrets',
    auth: 'bearer',
    params: wsSecretParams,
    body: putSecretBody,
    responses: {
      200: { description: 'replaced', schema: secretViewSchema },
      201: { description: 'created', schema: secretViewSchema },
      501: SECRETS_501,
    },
  }),
  deleteWorkspaceSecret: op({
    id: 'deleteWorkspaceSecret',
    method: 'DELETE',
    path: '/v1/workspaces/:wid/secrets/:name',
    summary: 'Remove a workspace secret',
    tag: 'secrets',
    auth: 'bearer',
    params: wsSecretParams,
    responses: { 204: { description: 'removed' }, 501: SECRETS_501 },
  }),
  listTenantSecrets: op({
    id: 'listTenantSecrets',
    method: 'GET',
    path: '/v1/secrets',
    summary: "The tenant's secrets (every workspace sees them); never their values",
    tag: 'secrets',
    auth: 'bearer',
    responses: { 200: { description: 'the secrets', schema: secretListSchema }, 501: SECRETS_501 },
  }),
  getTenantSecret: op({
    id: 'getTenantSecret',
    method: 'GET',
    path: '/v1/secrets/:name',
    summary: 'One tenant secret; never its value',
    tag: 'secrets',
    auth: 'bearer',
    params: secretParams,
    responses: { 200: { description: 'the secret', schema: secretViewSchema }, 501: SECRETS_501 },
  }),
  putTenantSecret: op({
    id: 'putTenantSecret',
    method: 'PUT',
    path: '/v1/secrets/:name',
    summary: 'Create or replace a tenant secret, for every workspace without one of that name',
    tag: 'secrets',
    auth: 'bearer',
    params: secretParams,
    body: putSecretBody,
    responses: {
      200: { description: 'replaced', schema: secretViewSchema },
      201: { description: 'created', schema: secretViewSchema },
      501: SECRETS_501,
    },
  }),
  deleteTenantSecret: op({
    id: 'deleteTenantSecret',
    method: 'DELETE',
    path: '/v1/secrets/:name',
    summary: 'Remove a tenant secret',
    tag: 'secrets',
    auth: 'bearer',
    params: secretParams,
    responses: { 204: { description: 'removed' }, 501: SECRETS_501 },
  }),
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
  postMessage: op({
    id: 'postMessage',
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
  openTerminal: op({
    id: 'openTerminal',
    method: 'GET',
    path: '/v1/workspaces/:wid/terminal',
    summary: "A WebSocket carrying an interactive shell in the workspace's container",
    description:
      'Upgrades to a WebSocket (send `Connection: Upgrade`, `Upgrade: websocket`). The shell is bash as uid 1000 in ' +
      "/workspace, with the agent's isolation, on a PTY. Binary frames carry raw bytes both ways; text frames carry " +
      'JSON control messages: from the client `{"type":"resize","cols":N,"rows":N}` and `{"type":"input","data":"..."}`; ' +
      'from the server `{"type":"ready","containerId":...}` first, `{"type":"exit","exitCode":N|null,"reason":"exited"|"idle"|"shutdown"|"closed"}` ' +
      'last (then the socket closes with 1000), and `{"type":"error",...}` for a refused control message. ' +
      'An open terminal keeps its container alive and never blocks a run; its changes are synced out when it closes ' +
      'and at the end of every run. Refusals come before the upgrade, as HTTP errors.',
    tag: 'terminal',
    auth: 'bearer-or-query',
    params: wsParams,
    query: terminalQuery,
    responses: {
      101: { description: 'switching to the WebSocket protocol' },
      400: { description: '`bad_request`: not a WebSocket upgrade', schema: errorResponseSchema },
      401: { description: TICKET_REFUSED, schema: errorResponseSchema },
      404: { description: 'no such workspace for this tenant', schema: errorResponseSchema },
      409: {
        description: "`workspace_busy`: the workspace's container is being prepared elsewhere",
        schema: errorResponseSchema,
      },
      429: {
        description: '`too_many_terminals`: the workspace or the host is at its terminal limit',
        schema: errorResponseSchema,
      },
      503: {
        description: '`container_start_failed`, `host_at_capacity` or `shutting_down`',
        schema: errorResponseSchema,
      },
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
  createWebhook: op({
    id: 'createWebhook',
    method: 'POST',
    path: '/v1/webhooks',
    summary: 'Register a webhook endpoint for run ends and workspace deletions',
    description:
      'Deliveries follow Standard Webhooks: a JSON POST (`WebhookPayload`) with `webhook-id` (the same on every ' +
      'attempt), `webhook-timestamp` and `webhook-signature` (`v1,` + base64 HMAC-SHA256 of `id.timestamp.body` ' +
      "keyed by the secret's base64 part), retried with exponential backoff until a 2xx. The URL must be http(s) " +
      'and reach only public addresses (unless the operator set `WORKCELL_WEBHOOK_ALLOW_PRIVATE=true`); ' +
      'metadata addresses are always refused. The secret is answered here only.',
    tag: 'webhooks',
    auth: 'bearer',
    body: createWebhookBody,
    responses: {
      201: { description: 'registered; `secret` is shown this once', schema: createdWebhookSchema },
      400: {
        description:
          '`webhook_url_invalid` (not an absolute http(s) URL, credentials or a fragment in it), ' +
          '`webhook_url_forbidden` (a private, loopback, link-local, metadata or unresolvable host) or `validation_failed`',
        schema: errorResponseSchema,
      },
      409: { description: '`conflict`: the tenant has 20 endpoints', schema: errorResponseSchema },
    },
  }),
  listWebhooks: op({
    id: 'listWebhooks',
    method: 'GET',
    path: '/v1/webhooks',
    summary: "The tenant's webhook endpoints (never their secrets)",
    tag: 'webhooks',
    auth: 'bearer',
    responses: { 200: { description: 'the endpoints', schema: webhookListSchema } },
  }),
  deleteWebhook: op({
    id: 'deleteWebhook',
    method: 'DELETE',
    path: '/v1/webhooks/:id',
    summary: 'Remove a webhook endpoint; deliveries still queued for it are dropped',
    tag: 'webhooks',
    auth: 'bearer',
    params: z.object({ id: idParam('webhook') }),
    responses: { 204: { description: 'removed' } },
  }),
  createTicket: op({
    id: 'createTicket',
    method: 'POST',
    path: '/v1/tickets',
    summary: 'A short-lived, single-use ticket for a browser to open a terminal or an event stream',
    description:
      'Browsers cannot send an `Authorization` header with an EventSource or a WebSocket; they pass a ticket ' +
      'instead (`?ticket=`), so the API token never goes into a URL. A ticket opens one connection: ' +
      "`terminal` the workspace's terminal, `events` the event stream of one of its runs. It is refused " +
      '(`ticket_invalid`) once used, after `expiresAt` (`WORKCELL_TICKET_TTL_MS` after issue), and for another ' +
      'workspace or purpose. Only a bearer token may ask for one.',
    tag: 'tickets',
    auth: 'bearer',
    body: createTicketBody,
    responses: {
      201: {
        description: 'the ticket; ask for a new one for each connection',
        schema: ticketSchema,
      },
      404: { description: 'no such workspace for this tenant', schema: errorResponseSchema },
      429: {
        description:
          `\`rate_limited\`: the tenant was issued its ${TICKETS_PER_TENANT_PER_TTL} tickets ` +
          'of the current TTL window (`Retry-After`)',
        schema: errorResponseSchema,
      },
    },
  }),
  adminContainers: op({
    id: 'adminContainers',
    method: 'GET',
    path: '/v1/admin/containers',
    summary:
      'Every managed container: state store records joined with the engine (admin tokens only; others get 404)',
    tag: 'admin',
    auth: 'admin',
    responses: {
      200: {
        description: 'the containers',
        schema: z.object({ containers: z.array(adminContainerSchema) }),
      },
    },
  }),
  health: op({
    id: 'health',
    method: 'GET',
    path: '/health',
    summary: 'Dependencies and pool counts; 503 when a dependency is down',
    tag: 'operations',
    auth: 'none',
    responses: {
      200: { description: 'healthy', schema: healthSchema },
      503: { description: 'degraded', schema: healthSchema },
    },
  }),
  healthz: op({
    id: 'healthz',
    method: 'GET',
    path: '/healthz',
    summary: 'The process is alive',
    tag: 'operations',
    auth: 'none',
    responses: { 200: { description: 'alive', schema: z.object({ status: z.literal('ok') }) } },
  }),
  readyz: op({
    id: 'readyz',
    method: 'GET',
    path: '/readyz',
    summary: 'Ready for work: dependencies up, the workspace image present, not shutting down',
    tag: 'operations',
    auth: 'none',
    responses: {
      200: { description: 'ready', schema: readinessSchema },
      503: { description: 'not ready', schema: readinessSchema },
    },
  }),
  // ---- snapshots ----
  listSnapshots: op({
    id: 'listSnapshots',
    method: 'GET',
    path: '/v1/workspaces/:wid/snapshots',
    summary: "A workspace's snapshots, newest first, a page at a time",
    description:
      'A snapshot is recorded after every run and exec whose sync out changed a file, and on request. ' +
      'The newest `WORKCELL_SNAPSHOT_KEEP` (default 100) are kept.',
    tag: 'snapshots',
    auth: 'bearer',
    params: wsParams,
    query: pageQuery,
    responses: {
      200: { description: 'the snapshots', schema: snapshotListSchema },
      400: PAGE_400,
    },
  }),
  createSnapshot: op({
    id: 'createSnapshot',
    method: 'POST',
    path: '/v1/workspaces/:wid/snapshots',
    summary: "Take a snapshot of the workspace's files as last stored",
    tag: 'snapshots',
    auth: 'bearer',
    params: wsParams,
    responses: {
      201: { description: 'the snapshot', schema: snapshotSchema },
      409: {
        description:
          '`workspace_busy`: a workspace stored before snapshots existed is moved to content-addressed storage first, under the workspace lock',
        schema: errorResponseSchema,
      },
    },
  }),
  restoreWorkspace: op({
    id: 'restoreWorkspace',
    method: 'POST',
    path: '/v1/workspaces/:wid/restore',
    summary: "Return the workspace's files to a snapshot",
    description:
      'The workspace gets exactly the files of the snapshot (the bytes are shared, not copied); ' +
      'its container, when it has one between runs, is brought up to date. Conversations are untouched.',
    tag: 'snapshots',
    auth: 'bearer',
    params: wsParams,
    body: restoreWorkspaceBody,
    responses: {
      200: { description: 'the snapshot the files now match', schema: snapshotSchema },
      404: {
        description: "`not_found`: the workspace or the snapshot (also another workspace's)",
        schema: errorResponseSchema,
      },
      409: {
        description: '`workspace_busy`: a run or another write holds the workspace',
        schema: errorResponseSchema,
      },
    },
  }),
  metrics: op({
    id: 'metrics',
    method: 'GET',
    path: '/metrics',
    summary: 'Prometheus metrics',
    tag: 'operations',
    auth: 'none',
    responses: {
      200: { description: 'Prometheus text exposition', contentType: 'text/plain; version=0.0.4' },
    },
  }),
  console: op({
    id: 'console',
    method: 'GET',
    path: '/',
    summary: 'The web console (sign in with an API token)',
    tag: 'operations',
    auth: 'none',
    responses: {
      200: { description: 'the console page', contentType: 'text/html' },
      304: { description: 'not modified' },
    },
  }),
  consoleAsset: op({
    id: 'consoleAsset',
    method: 'GET',
    path: '/assets/*',
    summary: "The web console's script and stylesheet",
    tag: 'operations',
    auth: 'none',
    params: z.object({ '*': z.string().describe('the file name') }),
    responses: {
      200: { description: 'the file', contentType: 'application/octet-stream' },
      304: { description: 'not modified' },
    },
  }),
  openapi: op({
    id: 'openapi',
    method: 'GET',
    path: '/openapi.json',
    summary: 'This document',
    tag: 'operations',
    auth: 'none',
    responses: { 200: { description: 'the OpenAPI document', contentType: 'application/json' } },
  }),
} as const;

export const OPERATIONS: readonly Operation[] = Object.values(ops);

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
