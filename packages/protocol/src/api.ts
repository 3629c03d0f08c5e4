import { z } from 'zod';
import { ERROR_CODES, type ErrorCode } from './errors.js';
import { errorBodySchema, runSummarySchema } from './agent-wire.js';

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
  pool: z.object({ warm: z.number().int(), assigned: z.number().int(), running: z.number().int() }),
});

export const readinessSchema = z.object({
  ready: z.boolean(),
  accepting: z.boolean(),
  docker: dependencySchema,
  stateStore: dependencySchema.extend({ kind: z.string() }),
  objectStore: dependencySchema.extend({ kind: z.string() }),
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

// ---- requests -------------------------------------------------------------------------------

export const createWorkspaceBody = z
  .object({ name: z.string().min(1).max(200).optional() })
  .strict();
export const createConversationBody = z
  .object({ title: z.string().min(1).max(500).optional() })
  .strict();
export const postMessageBody = z
  .object({ content: z.string().min(1).describe('the prompt') })
  .strict();
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
  access_token: z
    .string()
    .optional()
    .describe('the API token, for EventSource clients that cannot send headers'),
});
export const filesQuery = z.object({
  prefix: z.string().optional().describe('only paths that start with this'),
});

// ---- run events (SSE) -----------------------------------------------------------------------

/**
 * The `data` of each SSE event a run sends, by its `event:` name. `message` carries one Claude
 * Agent SDK message as the SDK produced it (`stream_event` partials included); its `type` field
 * says which.
 */
export const runEventDataSchemas = {
  'run.started': z.object({
    runId: z.string(),
    conversationId: z.string(),
    workspaceId: z.string(),
  }),
  message: z.looseObject({ type: z.string() }),
  'run.completed': runSummarySchema,
  'run.failed': errorBodySchema,
} as const;

export type RunEventName = keyof typeof runEventDataSchemas;
export const RUN_EVENT_NAMES = Object.keys(runEventDataSchemas) as RunEventName[];
export const TERMINAL_RUN_EVENTS: readonly RunEventName[] = ['run.completed', 'run.failed'];

// ---- types ----------------------------------------------------------------------------------

export type Workspace = z.output<typeof workspaceSchema>;
export type WorkspaceContainer = z.output<typeof containerSchema>;
export type WorkspaceDetail = z.output<typeof workspaceDetailSchema>;
export type FileEntry = z.output<typeof fileEntrySchema>;
export type WrittenFile = z.output<typeof writtenFileSchema>;
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

/** One run event: its sequence number in the run, its name and its typed data. */
export type RunEvent = {
  [N in RunEventName]: { seq: number; event: N; data: z.output<(typeof runEventDataSchemas)[N]> };
}[RunEventName];
