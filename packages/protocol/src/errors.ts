/**
 * The one registry of error codes. Every code has an HTTP status, so adding a code without
 * deciding its status does not compile. The same `{code, message}` shape goes out in JSON
 * error bodies, in SSE `run.failed` events and in the agent's NDJSON `run.failed` events.
 */
export const ERROR_STATUS = {
  bad_request: 400,
  invalid_json: 400,
  invalid_path: 400,
  validation_failed: 400,
  model_not_allowed: 400,
  system_prompt_not_allowed: 400,
  env_not_allowed: 400,
  /** A list's `cursor` that this host did not hand out (or that belongs to another list). */
  invalid_cursor: 400,
  /** A webhook URL that is not an absolute http(s) URL without credentials or fragment. */
  webhook_url_invalid: 400,
  /** A webhook URL whose host is (or resolves to) a private, loopback, link-local or metadata address. */
  webhook_url_forbidden: 400,
  unauthorized: 401,
  /** A browser ticket that is unknown, expired, already used, or for another workspace or purpose. */
  ticket_invalid: 401,
  not_found: 404,
  method_not_allowed: 405,
  workspace_busy: 409,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  headers_too_large: 431,
  internal: 500,
  agent_busy: 409,
  agent_unavailable: 502,
  agent_failed: 502,
  sdk_error: 502,
  container_failed: 502,
  container_start_failed: 503,
  sync_failed: 502,
  /** A stored snapshot record is damaged or not a snapshot; nothing is changed. */
  snapshot_unreadable: 502,
  /** An environment's packages could not be installed into a session's workspace. */
  package_install_failed: 502,
  session_lost: 409,
  run_timeout: 504,
  run_interrupted: 499,
  shutting_down: 503,
  /** The host running a run stopped and no host could reach its container to carry it on. */
  host_lost: 502,
  /** The container of a run was gone when a host came to carry the run on. */
  container_lost: 502,
  /** The agent no longer keeps the run's events from the point asked for. */
  events_lost: 410,
  host_at_capacity: 503,
  dependency_unavailable: 503,
  egress_denied: 403,
  proxy_at_capacity: 503,
  /** The upstream of a secret host presented a certificate the proxy could not verify. */
  upstream_tls_failed: 502,
  /** The upstream answered with a status line or header the proxy cannot relay. */
  upstream_invalid_response: 502,
  /** A stored secret value or format cannot travel in an HTTP header, so it is not sent. */
  secret_unusable: 502,
  /** A secret value or format with a character that cannot travel in an HTTP header. */
  secret_value_invalid: 400,
  /** Secrets need `WORKCELL_SECRETS_KEY`; without it the secrets routes answer this. */
  secrets_not_configured: 501,
  /** An uploaded archive is not a tar, tar.gz or zip the host can read (or is cut short). */
  archive_invalid: 400,
  /** An archive entry's path leaves the target folder or is not a valid workspace path. */
  archive_unsafe_path: 400,
  /** An archive holds a symbolic or hard link (workspace archives carry regular files only). */
  archive_link_refused: 400,
  /** An archive holds a device file, a fifo or another special entry. */
  archive_special_file: 400,
  /** An archive names one path twice, or as both a file and a folder. */
  archive_duplicate_path: 400,
  /** An archive unpacks past a limit: total bytes, entry count, compression ratio or file size. */
  archive_too_large: 413,
  /** A permission rule that is not Claude Code rule syntax. */
  permission_rule_invalid: 400,
  /** A client tool whose name, schema or description is refused. */
  client_tool_invalid: 400,
  /** A decision on an approval that is already decided. */
  approval_decided: 409,
  /** A result for a client tool call that already has one. */
  tool_call_answered: 409,
  /** A workspace or this host has as many open terminals as its setting allows. */
  too_many_terminals: 429,
} as const satisfies Record<string, number>;

export type ErrorCode = keyof typeof ERROR_STATUS;

export const ERROR_CODES = Object.keys(ERROR_STATUS) as ErrorCode[];

export interface ErrorBody {
  code: ErrorCode;
  message: string;
}

/** An error with a stable code; anything that reaches a client carries one. */
export class WorkcellError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'WorkcellError';
    this.code = code;
    this.details = details;
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }

  toBody(): ErrorBody {
    return { code: this.code, message: this.message };
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_STATUS, value);
}

/** Turns anything thrown into a `{code, message}`, defaulting to `fallback`. */
export function toErrorBody(err: unknown, fallback: ErrorCode = 'internal'): ErrorBody {
  if (err instanceof WorkcellError) return err.toBody();
  const message = err instanceof Error ? err.message : String(err);
  return { code: fallback, message };
}
