import { z } from 'zod';
import { ERROR_CODES, type ErrorCode } from './errors.js';
import { errorBodySchema, runSummarySchema } from './agent-wire.js';
import { agentSettingsSchema, messageAgentSchema } from './agent-settings.js';
import {
  approvalRequestedData,
  approvalResolvedData,
  toolRequestedData,
  toolResolvedData,
} from './approvals.js';
import { messageContentSchema } from './content.js';
import type { RunEventName } from './run-events.js';

/**
 * The public HTTP API's shapes as zod schemas: the host validates requests with them and builds
 * `/openapi.json` from them (packages/host/src/api/contract.ts), and `@workcell/client` takes its
 * types from them. One source, so the client, the server and the document cannot disagree.
 * Only zod here: this module runs in browsers too.
 */

/**
 * Lifecycle of a workspace container:
 * creating -> warm -> assigned -> running -> idle -> (paused) -> removing, plus failed.
 * A cold start goes creating -> assigned directly.
 */
export const CONTAINER_STATES = [
  'creating',
  'warm',
  'assigned',
  'running',
  'idle',
  'paused',
  'removing',
  'failed',
] as const;
export type ContainerState = (typeof CONTAINER_STATES)[number];

const isoTime = z.string().describe('ISO 8601 time');

// ---- responses ------------------------------------------------------------------------------

export const errorResponseSchema = z.object({
  error: z.object({
    code: z.enum(ERROR_CODES as [ErrorCode, ...ErrorCode[]]),
    message: z.string(),
  }),
});

export const workspaceSchema = z.object({ id: z.string(), name: z.string(), createdAt: isoTime });

export const containerSchema = z.object({
  id: z.string().describe('the Docker container id'),
  state: z.enum(CONTAINER_STATES),
  image: z.string(),
  createdAt: isoTime,
  lastRunEndedAt: isoTime.nullable(),
});

export const workspaceDetailSchema = workspaceSchema.extend({
  container: containerSchema.nullable(),
});

export const fileEntrySchema = z.object({
  path: z.string(),
  size: z.number().int(),
  sha256: z.string(),
  modifiedAt: isoTime,
});

export const writtenFileSchema = z.object({
  path: z.string(),
  size: z.number().int(),
  sha256: z.string(),
});

export const ARCHIVE_FORMATS = ['tar.gz', 'tar', 'zip'] as const;

export const archiveUploadSchema = z.object({
  path: z.string().describe('the folder the archive was unpacked into (`""` for the root)'),
  files: z.number().int().describe('files written'),
  bytes: z.number().int().describe('bytes written, unpacked'),
});

export const conversationSchema = z.object({
  id: z.string(),
  workspaceId: z.string(),
  title: z.string(),
  createdAt: isoTime,
});

export const RUN_STATUSES = ['running', 'completed', 'failed'] as const;

export const runSchema = z.object({
  id: z.string(),
  conversationId: z.string(),
  status: z.enum(RUN_STATUSES),
  startedAt: isoTime,
  endedAt: isoTime.nullable(),
  interrupted: z.boolean(),
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
  summary: runSummarySchema.nullable(),
  eventCount: z.number().int(),
  rewound: z
    .boolean()
    .describe(
      'true once the conversation was rewound to an earlier run: the run stays in the history, the model no longer sees it',
    ),
});

export const conversationDetailSchema = conversationSchema.extend({
  sessionId: z.string().nullable(),
  runs: z.array(runSchema),
});

export const runAcceptedSchema = z.object({ runId: z.string() });

export const interruptAcceptedSchema = z.object({
  runId: z.string(),
  interrupting: z.literal(true),
});

export const recordedEventSchema = z.object({
  seq: z.number().int(),
  event: z.string(),
  data: z.unknown(),
});

export const conversationHistorySchema = z.object({
  conversationId: z.string(),
  runs: z.array(
    z.object({
      runId: z.string(),
      status: z.enum(RUN_STATUSES),
      rewound: z
        .boolean()
        .describe(
          'the conversation was rewound to an earlier run: the model no longer sees this one',
        ),
      events: z.array(recordedEventSchema),
    }),
  ),
});

const dependencySchema = z.object({ ok: z.boolean(), error: z.string().optional() });

export const healthSchema = z.object({
  status: z.enum(['ok', 'degraded']),
  docker: dependencySchema,
  stateStore: dependencySchema.extend({ kind: z.string() }),
  objectStore: dependencySchema.extend({ kind: z.string() }),
  pool: z.object({
    warm: z.number().int(),
    assigned: z.number().int(),
    running: z.number().int(),
    /** Containers whose agent has a Claude Code process waiting for the next run. */
    ready: z.number().int(),
  }),
  proxy: z
    .object({
      isolation: z.enum(['process', 'inline']),
      ok: z.boolean(),
      state: z.enum(['starting', 'running', 'restarting', 'backoff', 'stopped']),
      pid: z.number().int().nullable(),
      standby: z.boolean(),
      restarts: z.number().int(),
      lastExit: z
        .object({
          code: z.number().int().nullable(),
          signal: z.string().nullable(),
          at: z.string(),
        })
        .nullable(),
    })
    .optional()
    .describe('the egress proxy: inline in the host, or a process of its own the host restarts'),
});

/** A store in the readiness report: while it is down, since when. */
const storeReadinessSchema = dependencySchema.extend({
  kind: z.string(),
  downSince: z
    .string()
    .optional()
    .describe('while the store is down: when it stopped answering (ISO 8601)'),
});

export const readinessSchema = z.object({
  ready: z.boolean(),
  accepting: z.boolean(),
  docker: dependencySchema,
  stateStore: storeReadinessSchema,
  objectStore: storeReadinessSchema,
  image: dependencySchema.extend({ name: z.string() }),
});

export const adminContainerSchema = z.object({
  id: z.string(),
  state: z
    .enum(CONTAINER_STATES)
    .nullable()
    .describe('the state store record; null for a container the state store does not know'),
  workspaceId: z.string().nullable(),
  tenant: z.string().nullable(),
  runId: z.string().nullable(),
  hostId: z.string().nullable(),
  image: z.string().nullable(),
  createdAt: isoTime.nullable(),
  lastRunEndedAt: isoTime.nullable(),
  engine: z
    .object({
      status: z.string(),
      running: z.boolean(),
      paused: z.boolean(),
      exitCode: z.number().nullable(),
      oomKilled: z.boolean(),
    })
    .nullable()
    .describe(
      'what the container engine reports; null when the engine does not know the container',
    ),
});

const policySchema = z.object({
  allow: z.array(z.string()),
  deny: z.array(z.string()),
  allowPrivate: z.array(z.string()),
});

export const egressDecisionSchema = z.object({
  time: isoTime,
  method: z.string(),
  host: z.string().nullable(),
  port: z.number().nullable(),
  decision: z.enum(['allow', 'deny']),
  reason: z.string(),
  status: z.number().nullable(),
});

export const egressViewSchema = z.object({
  workspaceId: z.string(),
  operator: policySchema,
  hosts: z.array(z.string()).nullable(),
  effective: policySchema,
  recent: z.array(egressDecisionSchema),
});

export const SECRET_SCOPES = ['tenant', 'workspace'] as const;

export const secretViewSchema = z.object({
  name: z.string().describe('the canonical (lower-case) name'),
  scope: z.enum(SECRET_SCOPES),
  hosts: z.array(z.string()).describe('the hosts the value is sent to'),
  header: z.string().nullable(),
  format: z.string().nullable(),
  headers: z
    .boolean()
    .describe('whether the placeholder is replaced in request header values to `hosts`'),
  body: z
    .boolean()
    .describe('whether the placeholder is replaced in request bodies to `hosts` too'),
  env: z.string().describe('the environment variable holding the placeholder in containers'),
  placeholder: z.string().describe('what containers hold instead of the value'),
  createdAt: isoTime,
  updatedAt: isoTime,
});

export const secretListSchema = z.object({
  secrets: z.array(secretViewSchema),
  nextCursor: z.string().nullable(),
});

export const workspaceAgentSchema = z.object({
  workspaceId: z.string(),
  settings: agentSettingsSchema.describe("the workspace's own settings, as last PUT"),
  effective: agentSettingsSchema.describe(
    "the operator's defaults with the workspace's settings over them",
  ),
});

export const usageTotalsSchema = z.object({
  runs: z.number().int().describe('runs whose main model (most output tokens) this is'),
  inputTokens: z.number(),
  outputTokens: z.number(),
  cacheReadInputTokens: z.number(),
  cacheCreationInputTokens: z.number(),
  costUsd: z.number(),
  runTimeMs: z.number().describe('wall-clock run time of those runs'),
});

export const usageDaySchema = usageTotalsSchema.extend({
  date: z.string().describe('YYYY-MM-DD (UTC), the day the runs ended'),
  model: z.string(),
});

export const usageSchema = z.object({
  from: z.string().nullable(),
  to: z.string().nullable(),
  days: z.array(usageDaySchema),
  totals: usageTotalsSchema,
});

/** The events a webhook endpoint may subscribe to. */
export const WEBHOOK_EVENTS = [
  'run.completed',
  'run.failed',
  'workspace.deleted',
  'approval.requested',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENTS)[number];

export const webhookSchema = z.object({
  id: z.string(),
  url: z.string(),
  events: z.array(z.enum(WEBHOOK_EVENTS)),
  createdAt: isoTime,
});

export const createdWebhookSchema = webhookSchema.extend({
  secret: z
    .string()
    .describe('the signing secret (`whsec_` + base64); answered once, at registration'),
});

export const webhookListSchema = z.object({
  webhooks: z.array(webhookSchema),
  nextCursor: z.string().nullable(),
});

/**
 * The JSON body of every delivery (Standard Webhooks): `type`, the event time and `data`.
 * The `webhook-id` header is the same on every attempt of one delivery, for deduplication.
 */
export const webhookPayloadSchema = z.object({
  type: z.enum(WEBHOOK_EVENTS),
  timestamp: isoTime,
  data: z.looseObject({ tenant: z.string(), workspaceId: z.string() }),
});

// ---- requests -------------------------------------------------------------------------------

export const createWorkspaceBody = z
  .object({
    name: z.string().min(1).max(200).optional(),
    agent: agentSettingsSchema.optional(),
  })
  .strict();
export const createConversationBody = z
  .object({ title: z.string().min(1).max(500).optional() })
  .strict();
export const postMessageBody = z
  .object({
    content: messageContentSchema,
    agent: messageAgentSchema.optional(),
  })
  .strict();
/** The body of `PUT /v1/workspaces/:wid/agent`: the workspace's whole settings. */
export const putAgentBody = agentSettingsSchema;
export const putEgressBody = z
  .object({
    /** Hosts the workspace may reach, each within the operator's list; null restores the operator's list. */
    hosts: z.array(z.string().min(1).max(300)).max(200).nullable(),
  })
  .strict();
export const eventsQuery = z.object({
  after: z
    .string()
    .regex(/^\d{1,9}$/, 'must be a non-negative integer')
    .optional()
    .describe(
      'resume after this sequence number (the `Last-Event-ID` header wins when both are sent)',
    ),
  ticket: z
    .string()
    .optional()
    .describe(
      'a single-use ticket (`POST /v1/tickets`, purpose `events`): how browsers authenticate an EventSource',
    ),
  access_token: z
    .string()
    .optional()
    .describe(
      'the API token itself; kept for older clients, but it puts a long-lived credential in a URL: use `ticket`',
    ),
});
/** `?limit=&cursor=` of every list that grows. */
export const pageQuery = z.object({
  limit: z
    .string()
    .regex(/^\d{1,4}$/, 'must be an integer from 1 to 1000')
    .refine((v) => Number(v) >= 1 && Number(v) <= 1000, 'must be an integer from 1 to 1000')
    .optional()
    .describe('items per page, 1-1000 (default 100)'),
  cursor: z
    .string()
    .max(1000)
    .optional()
    .describe("the previous page's `nextCursor`; absent for the first page"),
});
export const filesQuery = pageQuery.extend({
  prefix: z.string().optional().describe('only paths that start with this'),
});
export const archiveQuery = z.object({
  path: z
    .string()
    .optional()
    .describe(
      'a folder of the workspace: download only what is under it (names relative to it), or unpack into it',
    ),
});

/** What a browser ticket opens: the terminal WebSocket or a run's event stream. */
export const TICKET_PURPOSES = ['terminal', 'events'] as const;
export type TicketPurpose = (typeof TICKET_PURPOSES)[number];

export const createTicketBody = z
  .object({
    workspaceId: z.string().min(1).max(200).describe('the workspace the ticket opens'),
    purpose: z
      .enum(TICKET_PURPOSES)
      .describe(
        '`terminal` for `GET /v1/workspaces/:wid/terminal`, `events` for the event streams of its runs',
      ),
  })
  .strict();

export const ticketSchema = z.object({
  ticket: z
    .string()
    .describe('an opaque, single-use credential for `?ticket=`; it never lasts past `expiresAt`'),
  expiresAt: isoTime,
});

export const createWebhookBody = z
  .object({
    url: z.string().min(1).max(2048).describe('an absolute http(s) URL'),
    events: z.array(z.enum(WEBHOOK_EVENTS)).min(1).max(WEBHOOK_EVENTS.length),
  })
  .strict();
export const usageQuery = z.object({
  from: z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be YYYY-MM-DD')
    .optional()
    .describe('first day (UTC), inclusive'),
  to: z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be YYYY-MM-DD')
    .optional()
    .describe('last day (UTC), inclusive'),
});

/**
 * What a secret value or format may hold: printable ASCII, with spaces and tabs only between
 * visible characters. Anything else (controls, CR and LF above all, and every character above
 * U+007E) cannot travel in an HTTP header as the same bytes on every side, so it is refused when
 * stored rather than failing when the proxy substitutes it.
 */
const HEADER_SAFE = /^[\x21-\x7e](?:[\x20-\x7e\t]*[\x21-\x7e])?$/;
const HEADER_SAFE_MESSAGE =
  'must be printable ASCII (spaces and tabs only between visible characters), so it can travel in an HTTP header';

/** Whether `text` can be written into an HTTP header value as it is (secret values, formats). */
export function isHeaderSafe(text: string): boolean {
  return HEADER_SAFE.test(text);
}
const HEADER_TOKEN = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$/;
/** Header names a secret may not be written into: framing, routing and per-connection headers. */
const RESERVED_HEADERS = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'te',
  'trailer',
  'upgrade',
  'expect',
]);

/**
 * The body of `PUT .../secrets/:name`. The host refines it further: each host must be a host
 * name or an IP literal as the proxy reads them (packages/host/src/secrets/input.ts).
 */
export const putSecretBody = z
  .object({
    /** The real value; stored sealed, never shown again. */
    value: z
      .string()
      .min(1)
      .max(16_384)
      .refine(isHeaderSafe, {
        message: HEADER_SAFE_MESSAGE,
        params: { errorCode: 'secret_value_invalid' },
      }),
    /** Exact host names (or IP literals) the value may be sent to. */
    hosts: z.array(z.string().min(1).max(253)).min(1).max(20),
    /** The header the placeholder is accepted in (any header when absent). */
    header: z
      .string()
      .regex(HEADER_TOKEN, 'must be a header name')
      .refine(
        (h) => !RESERVED_HEADERS.has(h.toLowerCase()) && !h.toLowerCase().startsWith('proxy-'),
        'is a header a secret may not be written into',
      )
      .nullable()
      .optional(),
    /** The header's whole value, with `{value}` or `{basic:<user>}`; needs `header`. */
    format: z
      .string()
      .min(1)
      .max(1_000)
      .refine(isHeaderSafe, {
        message: HEADER_SAFE_MESSAGE,
        params: { errorCode: 'secret_value_invalid' },
      })
      .refine((f) => /\{value\}|\{basic:[^{}]*\}/.test(f), 'must contain {value} or {basic:<user>}')
      .refine((f) => !/\{basic:[^{}]*:[^{}]*\}/.test(f), 'a {basic:<user>} user has no colon')
      .nullable()
      .optional(),
    /**
     * Also replace the placeholder in request bodies sent to `hosts` (inside TLS the proxy
     * terminates); never in a body to any other host.
     */
    body: z.boolean().optional(),
    /**
     * Replace the placeholder in request header values sent to `hosts` (default true). With
     * false, a placeholder in a header is forwarded as it stands; `header` and `format` are then
     * refused, and so is `body` false as well (a secret that could go nowhere).
     */
    headers: z.boolean().optional(),
  })
  .strict();

// ---- run events (SSE) -----------------------------------------------------------------------

/**
 * The `data` of each SSE event a run sends, by its `event:` name. `message` carries one Claude
 * Agent SDK message as the SDK produced it (`stream_event` partials included); its `type` field
 * says which.
 */
export const runEventDataSchemas = {
  'run.started': z.looseObject({
    runId: z.string(),
    conversationId: z.string(),
    workspaceId: z.string(),
    agent: agentSettingsSchema
      .optional()
      .describe('the effective agent settings, MCP header values redacted'),
  }),
  'user.message': z.object({ content: messageContentSchema.describe('the prompt as sent') }),
  message: z.looseObject({ type: z.string() }),
  'approval.requested': approvalRequestedData,
  'approval.resolved': approvalResolvedData,
  'tool.requested': toolRequestedData,
  'tool.resolved': toolResolvedData,
  'run.completed': runSummarySchema,
  'run.failed': errorBodySchema,
} as const satisfies Record<RunEventName, z.ZodType>;

// ---- types ----------------------------------------------------------------------------------

export type Workspace = z.output<typeof workspaceSchema>;
export type WorkspaceContainer = z.output<typeof containerSchema>;
export type WorkspaceDetail = z.output<typeof workspaceDetailSchema>;
export type FileEntry = z.output<typeof fileEntrySchema>;
export type WrittenFile = z.output<typeof writtenFileSchema>;
export type ArchiveFormat = (typeof ARCHIVE_FORMATS)[number];
export type ArchiveUpload = z.output<typeof archiveUploadSchema>;
export type Conversation = z.output<typeof conversationSchema>;
export type Run = z.output<typeof runSchema>;
export type RunStatus = (typeof RUN_STATUSES)[number];
export type ConversationDetail = z.output<typeof conversationDetailSchema>;
export type ConversationHistory = z.output<typeof conversationHistorySchema>;
export type RecordedEvent = z.output<typeof recordedEventSchema>;
export type Health = z.output<typeof healthSchema>;
export type Readiness = z.output<typeof readinessSchema>;
export type AdminContainer = z.output<typeof adminContainerSchema>;
export type EgressDecision = z.output<typeof egressDecisionSchema>;
export type EgressView = z.output<typeof egressViewSchema>;
export type ErrorResponse = z.output<typeof errorResponseSchema>;
export type CreateWorkspaceInput = z.input<typeof createWorkspaceBody>;
export type CreateConversationInput = z.input<typeof createConversationBody>;
export type PostMessageInput = z.input<typeof postMessageBody>;
export type PutEgressInput = z.input<typeof putEgressBody>;
export type SecretScope = (typeof SECRET_SCOPES)[number];
export type SecretView = z.output<typeof secretViewSchema>;
export type SecretList = z.output<typeof secretListSchema>;
export type PutSecretInput = z.input<typeof putSecretBody>;
export type WorkspaceAgent = z.output<typeof workspaceAgentSchema>;
export type PutAgentInput = z.input<typeof putAgentBody>;
export type UsageTotals = z.output<typeof usageTotalsSchema>;
export type UsageDay = z.output<typeof usageDaySchema>;
export type Usage = z.output<typeof usageSchema>;
export type UsageQuery = z.input<typeof usageQuery>;
export type PageQuery = z.input<typeof pageQuery>;
export type Webhook = z.output<typeof webhookSchema>;
export type CreatedWebhook = z.output<typeof createdWebhookSchema>;
export type WebhookList = z.output<typeof webhookListSchema>;
export type WebhookPayload = z.output<typeof webhookPayloadSchema>;
export type CreateWebhookInput = z.input<typeof createWebhookBody>;
export type CreateTicketInput = z.input<typeof createTicketBody>;
export type Ticket = z.output<typeof ticketSchema>;

/** One run event: its sequence number in the run, its name and its typed data. */
export type RunEvent = {
  [N in RunEventName]: { seq: number; event: N; data: z.output<(typeof runEventDataSchemas)[N]> };
}[RunEventName];
