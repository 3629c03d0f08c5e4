import type {
  Approval,
  ApprovalDecisionBody,
  ToolResultBody,
  AdminContainer,
  ArchiveFormat,
  ArchiveUpload,
  Conversation,
  ConversationDetail,
  ConversationHistory,
  CreateConversationInput,
  CreatedWebhook,
  CreateTicketInput,
  CreateWebhookInput,
  CreateWorkspaceInput,
  EgressView,
  ExecEvent,
  ExecInput,
  ExecResult,
  FileEntry,
  ForkWorkspaceInput,
  ForkedWorkspace,
  Health,
  MessageContent,
  PostMessageInput,
  PutAgentInput,
  PutSecretInput,
  Readiness,
  RewoundConversation,
  Run,
  Ticket,
  SecretView,
  Snapshot,
  Usage,
  UsageQuery,
  Webhook,
  Workspace,
  WorkspaceAgent,
  WorkspaceDetail,
  WrittenFile,
} from '@workcell/protocol';
import { errorFromResponse } from './errors.js';
import { readExecEvents } from './exec-stream.js';
import { RunEventStream, type ReconnectOptions } from './run-stream.js';
import {
  Transport,
  type Page,
  type PageOptions,
  type RequestOptions,
  type TransportOptions,
  type UploadBody,
} from './transport.js';

export type { Page, PageOptions, RequestOptions, UploadBody } from './transport.js';

export interface WorkcellClientOptions extends TransportOptions {
  /** How run event streams reconnect after a dropped connection. */
  reconnect?: ReconnectOptions;
}

export interface StreamOptions extends RequestOptions {
  reconnect?: ReconnectOptions;
}

/** A file's bytes as a stream, with what the host said about them. */
export interface FileDownload {
  body: ReadableStream<Uint8Array>;
  /** The size of what `body` carries (a range's size for a range). */
  size: number | null;
  contentType: string | null;
  /** The file's sha256, quoted, as the host sends it in `ETag`. */
  etag: string | null;
}

/** A workspace archive as a stream. */
export interface ArchiveDownload {
  body: ReadableStream<Uint8Array>;
  format: ArchiveFormat;
  contentType: string | null;
}

/** The content type an archive upload is sent with: named by format, or left to the host to read. */
const ARCHIVE_UPLOAD_TYPES: Readonly<Record<'tar' | 'tar.gz' | 'zip' | 'auto', string>> = {
  tar: 'application/x-tar',
  'tar.gz': 'application/gzip',
  zip: 'application/zip',
  auto: 'application/octet-stream',
};

/** One message's agent overrides (`agent` in `POST .../messages`): the workspace's settings but MCP servers. */
export type MessageAgentInput = NonNullable<PostMessageInput['agent']>;

/** What goes with a message besides its content. */
export interface MessageOptions {
  /** This message's overrides of the workspace's agent settings. */
  agent?: MessageAgentInput;
}

/** A secret as stored, with whether the PUT created it (201) or replaced it (200). */
export interface PutSecretResult {
  secret: SecretView;
  created: boolean;
}

/** A run started without streaming (the API's 202 answer). */
export interface StartedRun {
  runId: string;
  conversationId: string;
}

/** Encodes each segment of a workspace path, keeping its slashes. */
function filePath(path: string): string {
  return path
    .replace(/^\/+/, '')
    .split('/')
    .map((segment) => encodeURIComponent(segment))
    .join('/');
}

/** The `Accept` header that asks for each download format. */
const ARCHIVE_ACCEPT: Readonly<Record<ArchiveFormat, string>> = {
  'tar.gz': 'application/gzip',
  tar: 'application/x-tar',
  zip: 'application/zip',
};

const id = (value: string): string => encodeURIComponent(value);

/** The body of `POST .../messages`: content, and the agent overrides when there are any. */
const messageBody = (content: MessageContent, agent?: MessageAgentInput): PostMessageInput =>
  agent ? { content, agent } : { content };

/**
 * A typed client for the Workcell API, built on fetch: Node 20+ and browsers alike. Every route
 * has a method; answers are typed by the same zod schemas the host validates with and documents
 * in `/openapi.json` (`@workcell/protocol`). A failed call throws `WorkcellApiError`.
 *
 * ```ts
 * const wc = new WorkcellClient({ baseUrl: 'http://127.0.0.1:8080', token });
 * const ws = await wc.workspaces.create({ name: 'demo' });
 * const conv = await wc.conversations.create(ws.id);
 * for await (const ev of wc.conversations.send(conv.id, 'hello')) console.log(ev.event, ev.data);
 * ```
 */
export class WorkcellClient extends Transport {
  private readonly reconnect: ReconnectOptions;

  constructor(options: WorkcellClientOptions = {}) {
    super(options);
    this.reconnect = options.reconnect ?? {};
  }

  // ---- streams ----------------------------------------------------------------------------------

  private stream(
    open: (signal: AbortSignal) => Promise<Response>,
    options: { conversationId: string; runId: string | null; after: number; retryOpen: boolean },
    streamOptions: StreamOptions = {},
  ): RunEventStream {
    const eventsPath = (runId: string): string =>
      `/v1/conversations/${id(options.conversationId)}/runs/${id(runId)}/events`;
    return new RunEventStream(
      {
        open,
        openIsRetryable: options.retryOpen,
        resume: (runId, after, signal) =>
          this.raw('GET', eventsPath(runId), {
            headers: { accept: 'text/event-stream', 'last-event-id': String(after) },
            signal,
          }),
        after: options.after,
        runId: options.runId,
        url: this.baseUrl || '(this origin)',
      },
      streamOptions.signal,
      { ...this.reconnect, ...streamOptions.reconnect },
    );
  }

  private async *execStream(
    workspaceId: string,
    input: ExecInput,
    o: RequestOptions,
  ): AsyncGenerator<ExecEvent> {
    const res = await this.raw('POST', `/v1/workspaces/${id(workspaceId)}/exec`, {
      json: input,
      headers: { accept: 'text/event-stream' },
      ...(o.signal ? { signal: o.signal } : {}),
    });
    if (!res.ok) throw await errorFromResponse(res);
    yield* readExecEvents(res);
  }

  // ---- routes -----------------------------------------------------------------------------------

  readonly workspaces = {
    /** `POST /v1/workspaces` */
    create: (input: CreateWorkspaceInput = {}, o: RequestOptions = {}): Promise<Workspace> =>
      this.call('POST', '/v1/workspaces', { json: input, signal: o.signal }),
    /** Every workspace of the tenant, oldest first (`GET /v1/workspaces`, page after page). */
    list: (o: RequestOptions = {}): Promise<Workspace[]> =>
      this.all('/v1/workspaces', 'workspaces', o),
    /** One page of `GET /v1/workspaces?limit=&cursor=`. */
    page: (o: PageOptions = {}): Promise<Page<Workspace>> =>
      this.page('/v1/workspaces', 'workspaces', o),
    /** The workspaces one at a time, fetching pages of `limit` as the loop needs them. */
    iterate: (o: Omit<PageOptions, 'cursor'> = {}): AsyncGenerator<Workspace> =>
      this.iterate('/v1/workspaces', 'workspaces', o),
    /** `GET /v1/workspaces/:wid`: the workspace and its container (null when it has none). */
    get: (workspaceId: string, o: RequestOptions = {}): Promise<WorkspaceDetail> =>
      this.call('GET', `/v1/workspaces/${id(workspaceId)}`, o),
    /**
     * `POST /v1/workspaces/:wid/fork`: a new workspace with the files of a snapshot (the newest
     * by default), the settings, secrets and every conversation continuing its history; answers
     * the fork and which of its conversations continues which of the source's.
     */
    fork: (
      workspaceId: string,
      input: ForkWorkspaceInput = {},
      o: RequestOptions = {},
    ): Promise<ForkedWorkspace> =>
      this.call('POST', `/v1/workspaces/${id(workspaceId)}/fork`, {
        json: input,
        signal: o.signal,
      }),
    /** `DELETE /v1/workspaces/:wid`: its container, files and conversations go too. */
    delete: async (workspaceId: string, o: RequestOptions = {}): Promise<void> => {
      await this.call('DELETE', `/v1/workspaces/${id(workspaceId)}`, o);
    },
  };

  readonly exec = {
    /**
     * `POST /v1/workspaces/:wid/exec`: runs a command in the workspace's container and answers
     * when it ends, its output capped by the host. A non-zero exit is an answer, not an error.
     */
    run: (workspaceId: string, input: ExecInput, o: RequestOptions = {}): Promise<ExecResult> =>
      this.call('POST', `/v1/workspaces/${id(workspaceId)}/exec`, {
        json: input,
        signal: o.signal,
      }),
    /**
     * The same, streamed: yields `stdout` / `stderr` chunks as the command writes them, then
     * `exit`. Refusals (`workspace_busy`, ...) throw before the first event; aborting `o.signal`
     * kills the command.
     */
    stream: (
      workspaceId: string,
      input: ExecInput,
      o: RequestOptions = {},
    ): AsyncGenerator<ExecEvent> => this.execStream(workspaceId, input, o),
  };

  readonly files = {
    /** Every file of the workspace (under `prefix`), by path (`GET .../files`, page after page). */
    list: (
      workspaceId: string,
      o: RequestOptions & { prefix?: string } = {},
    ): Promise<FileEntry[]> =>
      this.all(`/v1/workspaces/${id(workspaceId)}/files`, 'files', o, { prefix: o.prefix }),
    /** One page of `GET /v1/workspaces/:wid/files?limit=&cursor=`. */
    page: (
      workspaceId: string,
      o: PageOptions & { prefix?: string } = {},
    ): Promise<Page<FileEntry>> =>
      this.page(`/v1/workspaces/${id(workspaceId)}/files`, 'files', o, { prefix: o.prefix }),
    /** The files one at a time, fetching pages as the loop needs them. */
    iterate: (
      workspaceId: string,
      o: Omit<PageOptions, 'cursor'> & { prefix?: string } = {},
    ): AsyncGenerator<FileEntry> =>
      this.iterate(`/v1/workspaces/${id(workspaceId)}/files`, 'files', o, { prefix: o.prefix }),
    /**
     * `GET /v1/workspaces/:wid/files/<path>` as a stream, so a large file never sits in memory;
     * `range` asks for bytes `start..end` (inclusive).
     */
    download: async (
      workspaceId: string,
      path: string,
      o: RequestOptions & { range?: { start: number; end?: number } } = {},
    ): Promise<FileDownload> => {
      const headers: Record<string, string> = {};
      if (o.range) headers.range = `bytes=${o.range.start}-${o.range.end ?? ''}`;
      const res = await this.raw(
        'GET',
        `/v1/workspaces/${id(workspaceId)}/files/${filePath(path)}`,
        { headers, signal: o.signal },
      );
      if (!res.ok) throw await errorFromResponse(res);
      const length = res.headers.get('content-length');
      return {
        body: res.body ?? new ReadableStream<Uint8Array>({ start: (c) => c.close() }),
        size: length === null ? null : Number(length),
        contentType: res.headers.get('content-type'),
        etag: res.headers.get('etag'),
      };
    },
    /** A file's bytes, whole. */
    bytes: async (workspaceId: string, path: string, o: RequestOptions = {}): Promise<Uint8Array> =>
      new Uint8Array(
        await new Response((await this.files.download(workspaceId, path, o)).body).arrayBuffer(),
      ),
    /** A file as UTF-8 text, whole. */
    text: async (workspaceId: string, path: string, o: RequestOptions = {}): Promise<string> =>
      new Response((await this.files.download(workspaceId, path, o)).body).text(),
    /** `PUT /v1/workspaces/:wid/files/<path>`; a `ReadableStream` body is streamed. */
    upload: (
      workspaceId: string,
      path: string,
      body: UploadBody,
      o: RequestOptions = {},
    ): Promise<WrittenFile> =>
      this.call('PUT', `/v1/workspaces/${id(workspaceId)}/files/${filePath(path)}`, {
        body,
        signal: o.signal,
      }),
    /** `DELETE /v1/workspaces/:wid/files/<path>` */
    delete: async (workspaceId: string, path: string, o: RequestOptions = {}): Promise<void> => {
      await this.call('DELETE', `/v1/workspaces/${id(workspaceId)}/files/${filePath(path)}`, o);
    },
  };

  readonly archives = {
    /**
     * `GET /v1/workspaces/:wid/archive`: the workspace's files as a stream, `tar.gz` (default),
     * `zip`, or uncompressed `tar` (the fastest); `path` limits it to a folder (entries named
     * relative to it).
     */
    download: async (
      workspaceId: string,
      o: RequestOptions & { path?: string; format?: ArchiveFormat } = {},
    ): Promise<ArchiveDownload> => {
      const format = o.format ?? 'tar.gz';
      const res = await this.raw('GET', `/v1/workspaces/${id(workspaceId)}/archive`, {
        query: { path: o.path },
        headers: { accept: ARCHIVE_ACCEPT[format] },
        signal: o.signal,
      });
      if (!res.ok) throw await errorFromResponse(res);
      return {
        body: res.body ?? new ReadableStream<Uint8Array>({ start: (c) => c.close() }),
        format,
        contentType: res.headers.get('content-type'),
      };
    },
    /**
     * `POST /v1/workspaces/:wid/archive`: unpacks a tar, tar.gz or zip into the workspace (or the
     * folder `path`). `format` names it; by default the host reads it from the bytes. A refused
     * archive (unsafe entry, link, too large, ...) throws and changes nothing.
     */
    upload: (
      workspaceId: string,
      body: UploadBody,
      o: RequestOptions & { path?: string; format?: 'tar' | 'tar.gz' | 'zip' } = {},
    ): Promise<ArchiveUpload> =>
      this.call('POST', `/v1/workspaces/${id(workspaceId)}/archive`, {
        query: { path: o.path },
        headers: { 'content-type': ARCHIVE_UPLOAD_TYPES[o.format ?? 'auto'] },
        body,
        signal: o.signal,
      }),
  };

  readonly conversations = {
    /** `POST /v1/workspaces/:wid/conversations` */
    create: (
      workspaceId: string,
      input: CreateConversationInput = {},
      o: RequestOptions = {},
    ): Promise<Conversation> =>
      this.call('POST', `/v1/workspaces/${id(workspaceId)}/conversations`, {
        json: input,
        signal: o.signal,
      }),
    /** Every conversation of the workspace, oldest first (page after page). */
    list: (workspaceId: string, o: RequestOptions = {}): Promise<Conversation[]> =>
      this.all(`/v1/workspaces/${id(workspaceId)}/conversations`, 'conversations', o),
    /** One page of `GET /v1/workspaces/:wid/conversations?limit=&cursor=`. */
    page: (workspaceId: string, o: PageOptions = {}): Promise<Page<Conversation>> =>
      this.page(`/v1/workspaces/${id(workspaceId)}/conversations`, 'conversations', o),
    /** The conversations one at a time, fetching pages as the loop needs them. */
    iterate: (
      workspaceId: string,
      o: Omit<PageOptions, 'cursor'> = {},
    ): AsyncGenerator<Conversation> =>
      this.iterate(`/v1/workspaces/${id(workspaceId)}/conversations`, 'conversations', o),
    /** Every run of the conversation, oldest first (`GET /v1/conversations/:cid/runs`). */
    runs: (conversationId: string, o: RequestOptions = {}): Promise<Run[]> =>
      this.all(`/v1/conversations/${id(conversationId)}/runs`, 'runs', o),
    /** One page of `GET /v1/conversations/:cid/runs?limit=&cursor=`. */
    runsPage: (conversationId: string, o: PageOptions = {}): Promise<Page<Run>> =>
      this.page(`/v1/conversations/${id(conversationId)}/runs`, 'runs', o),
    /** `GET /v1/conversations/:cid`: the conversation and its runs. */
    get: (conversationId: string, o: RequestOptions = {}): Promise<ConversationDetail> =>
      this.call('GET', `/v1/conversations/${id(conversationId)}`, o),
    /** `GET /v1/conversations/:cid/messages`: every run's recorded events, in order. */
    history: (conversationId: string, o: RequestOptions = {}): Promise<ConversationHistory> =>
      this.call('GET', `/v1/conversations/${id(conversationId)}/messages`, o),
    /**
     * `POST /v1/conversations/:cid/messages` with `Accept: text/event-stream`: starts a run and
     * answers its events as they happen. The iterable resumes by itself when the connection
     * drops and ends after `run.completed` or `run.failed`. Errors (such as 409
     * `workspace_busy`) are thrown by the loop. Aborting `signal` stops reading; the run goes on.
     * `content` is a string or content blocks (text, and images as base64); `o.agent` overrides
     * the workspace's agent settings for this message.
     */
    send: (
      conversationId: string,
      content: MessageContent,
      o: StreamOptions & MessageOptions = {},
    ): RunEventStream =>
      this.stream(
        (signal) =>
          this.raw('POST', `/v1/conversations/${id(conversationId)}/messages`, {
            json: messageBody(content, o.agent),
            headers: { accept: 'text/event-stream' },
            signal,
          }),
        { conversationId, runId: null, after: 0, retryOpen: false },
        o,
      ),
    /** `POST /v1/conversations/:cid/messages` without streaming: the run starts (202) and goes on. */
    start: async (
      conversationId: string,
      content: MessageContent,
      o: RequestOptions & MessageOptions = {},
    ): Promise<StartedRun> => {
      const { runId } = await this.call<{ runId: string }>(
        'POST',
        `/v1/conversations/${id(conversationId)}/messages`,
        { json: messageBody(content, o.agent), signal: o.signal },
      );
      return { runId, conversationId };
    },
    /**
     * `GET /v1/conversations/:cid/runs/:rid/events`: the run's events after `after` (0: all),
     * replayed and then live to the terminal event; resumes by itself like `send`.
     */
    events: (
      conversationId: string,
      runId: string,
      o: StreamOptions & { after?: number } = {},
    ): RunEventStream => {
      const after = o.after ?? 0;
      return this.stream(
        (signal) =>
          this.raw('GET', `/v1/conversations/${id(conversationId)}/runs/${id(runId)}/events`, {
            headers: { accept: 'text/event-stream', 'last-event-id': String(after) },
            signal,
          }),
        { conversationId, runId, after, retryOpen: true },
        o,
      );
    },
    /**
     * `POST /v1/conversations/:cid/fork`: a new conversation in the same workspace whose
     * history ends with `atRunId` (the newest ended run by default).
     */
    fork: (
      conversationId: string,
      input: { atRunId?: string } = {},
      o: RequestOptions = {},
    ): Promise<Conversation> =>
      this.call('POST', `/v1/conversations/${id(conversationId)}/fork`, {
        json: input,
        signal: o.signal,
      }),
    /**
     * `POST /v1/conversations/:cid/rewind`: the conversation continues from the end of
     * `toRunId`, the later runs marked rewound; `files: true` returns the workspace's files to
     * the snapshot as of that run too.
     */
    rewind: (
      conversationId: string,
      input: { toRunId: string; files?: boolean },
      o: RequestOptions = {},
    ): Promise<RewoundConversation> =>
      this.call('POST', `/v1/conversations/${id(conversationId)}/rewind`, {
        json: input,
        signal: o.signal,
      }),
    /** `POST /v1/conversations/:cid/runs/:rid/interrupt`: the run ends with `run.completed`, interrupted. */
    interrupt: async (
      conversationId: string,
      runId: string,
      o: RequestOptions = {},
    ): Promise<void> => {
      await this.call(
        'POST',
        `/v1/conversations/${id(conversationId)}/runs/${id(runId)}/interrupt`,
        o,
      );
    },
  };

  /** One conversation's calls with its id bound: `wc.conversation(cid).events(runId, {after})`. */
  conversation(conversationId: string) {
    const c = this.conversations;
    return {
      id: conversationId,
      get: (o?: RequestOptions) => c.get(conversationId, o),
      history: (o?: RequestOptions) => c.history(conversationId, o),
      send: (content: MessageContent, o?: StreamOptions & MessageOptions) =>
        c.send(conversationId, content, o),
      start: (content: MessageContent, o?: RequestOptions & MessageOptions) =>
        c.start(conversationId, content, o),
      events: (runId: string, o?: StreamOptions & { after?: number }) =>
        c.events(conversationId, runId, o),
      interrupt: (runId: string, o?: RequestOptions) => c.interrupt(conversationId, runId, o),
    };
  }

  readonly approvals = {
    /** Every approval and client tool call of the conversation, oldest first (page after page). */
    list: (conversationId: string, o: RequestOptions = {}): Promise<Approval[]> =>
      this.all(`/v1/conversations/${id(conversationId)}/approvals`, 'approvals', o),
    /** One page of `GET /v1/conversations/:cid/approvals?limit=&cursor=`. */
    page: (conversationId: string, o: PageOptions = {}): Promise<Page<Approval>> =>
      this.page(`/v1/conversations/${id(conversationId)}/approvals`, 'approvals', o),
    /**
     * `POST /v1/conversations/:cid/approvals/:approvalId`: allow (with `updatedInput`, optionally)
     * or deny (with a `message` for the model). A second decision throws `approval_decided`.
     */
    decide: (
      conversationId: string,
      approvalId: string,
      decision: ApprovalDecisionBody,
      o: RequestOptions = {},
    ): Promise<Approval> =>
      this.call('POST', `/v1/conversations/${id(conversationId)}/approvals/${id(approvalId)}`, {
        json: decision,
        signal: o.signal,
      }),
  };

  readonly toolResults = {
    /**
     * `POST /v1/conversations/:cid/tool-results/:callId`: the result of a client tool call
     * (`tool.requested`). A second result throws `tool_call_answered`.
     */
    send: (
      conversationId: string,
      callId: string,
      result: ToolResultBody,
      o: RequestOptions = {},
    ): Promise<Approval> =>
      this.call('POST', `/v1/conversations/${id(conversationId)}/tool-results/${id(callId)}`, {
        json: result,
        signal: o.signal,
      }),
  };

  readonly snapshots = {
    /** Every snapshot of the workspace, newest first (`GET /v1/workspaces/:wid/snapshots`). */
    list: (workspaceId: string, o: RequestOptions = {}): Promise<Snapshot[]> =>
      this.all(`/v1/workspaces/${id(workspaceId)}/snapshots`, 'snapshots', o),
    /** One page of `GET /v1/workspaces/:wid/snapshots?limit=&cursor=`. */
    page: (workspaceId: string, o: PageOptions = {}): Promise<Page<Snapshot>> =>
      this.page(`/v1/workspaces/${id(workspaceId)}/snapshots`, 'snapshots', o),
    /** `POST /v1/workspaces/:wid/snapshots`: a snapshot of the files as last stored. */
    take: (workspaceId: string, o: RequestOptions = {}): Promise<Snapshot> =>
      this.call('POST', `/v1/workspaces/${id(workspaceId)}/snapshots`, {
        json: {},
        signal: o.signal,
      }),
    /** `POST /v1/workspaces/:wid/restore`: the workspace's files become the snapshot's. */
    restore: (workspaceId: string, snapshotId: string, o: RequestOptions = {}): Promise<Snapshot> =>
      this.call('POST', `/v1/workspaces/${id(workspaceId)}/restore`, {
        json: { snapshotId },
        signal: o.signal,
      }),
  };

  readonly egress = {
    /** `GET /v1/workspaces/:wid/egress`: the policy and the most recent proxy decisions. */
    get: (workspaceId: string, o: RequestOptions = {}): Promise<EgressView> =>
      this.call('GET', `/v1/workspaces/${id(workspaceId)}/egress`, o),
    /** `PUT /v1/workspaces/:wid/egress`: narrow the operator's list (null restores it). */
    set: (
      workspaceId: string,
      hosts: string[] | null,
      o: RequestOptions = {},
    ): Promise<EgressView> =>
      this.call('PUT', `/v1/workspaces/${id(workspaceId)}/egress`, {
        json: { hosts },
        signal: o.signal,
      }),
  };

  readonly agent = {
    /** `GET /v1/workspaces/:wid/agent`: the workspace's settings and the effective ones. */
    get: (workspaceId: string, o: RequestOptions = {}): Promise<WorkspaceAgent> =>
      this.call('GET', `/v1/workspaces/${id(workspaceId)}/agent`, o),
    /**
     * `PUT /v1/workspaces/:wid/agent`: replaces the workspace's whole settings (`{}` clears them);
     * they apply from the next message. A refused setting throws (`model_not_allowed`, ...).
     */
    set: (
      workspaceId: string,
      settings: PutAgentInput,
      o: RequestOptions = {},
    ): Promise<WorkspaceAgent> =>
      this.call('PUT', `/v1/workspaces/${id(workspaceId)}/agent`, {
        json: settings,
        signal: o.signal,
      }),
  };

  readonly usage = {
    /** `GET /v1/workspaces/:wid/usage`: tokens, cost and run time per day (UTC) and model. */
    workspace: (workspaceId: string, o: RequestOptions & UsageQuery = {}): Promise<Usage> =>
      this.call('GET', `/v1/workspaces/${id(workspaceId)}/usage`, {
        query: { from: o.from, to: o.to },
        signal: o.signal,
      }),
    /** `GET /v1/usage`: the tenant's usage over every workspace. */
    tenant: (o: RequestOptions & UsageQuery = {}): Promise<Usage> =>
      this.call('GET', '/v1/usage', { query: { from: o.from, to: o.to }, signal: o.signal }),
  };

  /**
   * Secrets by scope: `secrets.workspace` for one workspace's own (it also sees the tenant's),
   * `secrets.tenant` for every workspace of the tenant. A value goes in and never comes out:
   * the views carry names, hosts and placeholders. A host without `WORKCELL_SECRETS_KEY`
   * answers 501 `secrets_not_configured`.
   */
  readonly secrets = {
    workspace: {
      /** `GET /v1/workspaces/:wid/secrets`: the workspace's secrets and the tenant's. */
      list: async (workspaceId: string, o: RequestOptions = {}): Promise<SecretView[]> =>
        (
          await this.call<{ secrets: SecretView[] }>(
            'GET',
            `/v1/workspaces/${id(workspaceId)}/secrets`,
            o,
          )
        ).secrets,
      /** `GET /v1/workspaces/:wid/secrets/:name` */
      get: (workspaceId: string, name: string, o: RequestOptions = {}): Promise<SecretView> =>
        this.call('GET', `/v1/workspaces/${id(workspaceId)}/secrets/${id(name)}`, o),
      /** `PUT /v1/workspaces/:wid/secrets/:name`: creates or replaces; a new value applies to the next request. */
      put: (
        workspaceId: string,
        name: string,
        input: PutSecretInput,
        o: RequestOptions = {},
      ): Promise<PutSecretResult> =>
        this.putSecret(`/v1/workspaces/${id(workspaceId)}/secrets/${id(name)}`, input, o),
      /** `DELETE /v1/workspaces/:wid/secrets/:name` */
      delete: async (workspaceId: string, name: string, o: RequestOptions = {}): Promise<void> => {
        await this.call('DELETE', `/v1/workspaces/${id(workspaceId)}/secrets/${id(name)}`, o);
      },
    },
    tenant: {
      /** `GET /v1/secrets` */
      list: async (o: RequestOptions = {}): Promise<SecretView[]> =>
        (await this.call<{ secrets: SecretView[] }>('GET', '/v1/secrets', o)).secrets,
      /** `GET /v1/secrets/:name` */
      get: (name: string, o: RequestOptions = {}): Promise<SecretView> =>
        this.call('GET', `/v1/secrets/${id(name)}`, o),
      /** `PUT /v1/secrets/:name`: for every workspace without a secret of that name. */
      put: (
        name: string,
        input: PutSecretInput,
        o: RequestOptions = {},
      ): Promise<PutSecretResult> => this.putSecret(`/v1/secrets/${id(name)}`, input, o),
      /** `DELETE /v1/secrets/:name` */
      delete: async (name: string, o: RequestOptions = {}): Promise<void> => {
        await this.call('DELETE', `/v1/secrets/${id(name)}`, o);
      },
    },
  };

  private async putSecret(
    path: string,
    input: PutSecretInput,
    o: RequestOptions,
  ): Promise<PutSecretResult> {
    const res = await this.raw('PUT', path, { json: input, signal: o.signal });
    if (!res.ok) throw await errorFromResponse(res);
    return { secret: (await res.json()) as SecretView, created: res.status === 201 };
  }

  /**
   * Webhook endpoints of the tenant: run ends and workspace deletions, delivered as Standard
   * Webhooks. The signing secret is answered by `create` only; verify deliveries with it (the
   * `standardwebhooks` package does).
   */
  readonly webhooks = {
    /** `POST /v1/webhooks` */
    create: (input: CreateWebhookInput, o: RequestOptions = {}): Promise<CreatedWebhook> =>
      this.call('POST', '/v1/webhooks', { json: input, signal: o.signal }),
    /** `GET /v1/webhooks` */
    list: async (o: RequestOptions = {}): Promise<Webhook[]> =>
      (await this.call<{ webhooks: Webhook[] }>('GET', '/v1/webhooks', o)).webhooks,
    /** `DELETE /v1/webhooks/:id`: deliveries still queued for it are dropped. */
    delete: async (webhookId: string, o: RequestOptions = {}): Promise<void> => {
      await this.call('DELETE', `/v1/webhooks/${id(webhookId)}`, o);
    },
  };

  readonly tickets = {
    /**
     * `POST /v1/tickets`: a short-lived, single-use ticket with which a browser opens the
     * terminal (`purpose: 'terminal'`) or a run's event stream (`'events'`) of one workspace,
     * passed as `?ticket=` so the API token never goes into a URL. Ask for one per connection.
     */
    create: (input: CreateTicketInput, o: RequestOptions = {}): Promise<Ticket> =>
      this.call('POST', '/v1/tickets', { json: input, signal: o.signal }),
  };

  readonly terminal = {
    /**
     * The WebSocket URL of `GET /v1/workspaces/:wid/terminal` (a shell in the workspace's
     * container). A browser's `WebSocket` cannot send headers, so the URL carries the
     * credential: give it a ticket (`wc.tickets.create({workspaceId, purpose: 'terminal'})`),
     * which opens one connection and expires soon; without one the API token itself goes in
     * `access_token`, which suits only code that keeps the URL to itself. Binary frames carry
     * bytes both ways; text frames carry `TerminalClientMessage` / `TerminalServerMessage` JSON.
     */
    url: (
      workspaceId: string,
      o: { cols?: number; rows?: number; ticket?: string } = {},
    ): string => {
      const http = this.url(`/v1/workspaces/${id(workspaceId)}/terminal`, {
        cols: o.cols?.toString(),
        rows: o.rows?.toString(),
        ...(o.ticket === undefined ? { access_token: this.token } : { ticket: o.ticket }),
      });
      const here = (globalThis as { location?: { href: string } }).location?.href;
      const absolute = new URL(http, here);
      absolute.protocol = absolute.protocol === 'https:' ? 'wss:' : 'ws:';
      return absolute.toString();
    },
  };

  readonly admin = {
    /** `GET /v1/admin/containers` (admin tokens; anyone else gets 404 `not_found`). */
    containers: async (o: RequestOptions = {}): Promise<AdminContainer[]> =>
      (await this.call<{ containers: AdminContainer[] }>('GET', '/v1/admin/containers', o))
        .containers,
  };

  /** `GET /health`: answers the report when degraded (503) too. */
  health(o: RequestOptions = {}): Promise<Health> {
    return this.call('GET', '/health', o, [503]);
  }

  /** `GET /readyz`: answers the report when not ready (503) too. */
  ready(o: RequestOptions = {}): Promise<Readiness> {
    return this.call('GET', '/readyz', o, [503]);
  }

  /** `GET /metrics`: Prometheus text. */
  async metrics(o: RequestOptions = {}): Promise<string> {
    const res = await this.raw('GET', '/metrics', o);
    if (!res.ok) throw await errorFromResponse(res);
    return res.text();
  }

  /** `GET /openapi.json`: the API's OpenAPI 3.1 document. */
  openapi(o: RequestOptions = {}): Promise<Record<string, unknown>> {
    return this.call('GET', '/openapi.json', o);
  }
}
