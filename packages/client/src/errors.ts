import { isErrorCode, type ErrorCode } from '@workcell/protocol';

/**
 * Every failure the client reports: an error answer from the API (`status` and `code` as the
 * host sent them), a stream that could not be resumed, or a host that could not be reached
 * (`status` 0, code `dependency_unavailable`). `code` is always one of the protocol's error codes.
 */
export class WorkcellApiError extends Error {
  readonly status: number;
  readonly code: ErrorCode;

  constructor(status: number, code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WorkcellApiError';
    this.status = status;
    this.code = code;
  }
}

/** The code for a status when the body does not name one. */
function codeForStatus(status: number): ErrorCode {
  if (status === 401) return 'unauthorized';
  if (status === 404) return 'not_found';
  if (status === 409) return 'conflict';
  if (status === 413) return 'payload_too_large';
  if (status === 429) return 'rate_limited';
  if (status === 503) return 'dependency_unavailable';
  if (status >= 500) return 'internal';
  return 'bad_request';
}

/** The error for a non-2xx response, from its `{error: {code, message}}` body when it has one. */
export async function errorFromResponse(res: Response): Promise<WorkcellApiError> {
  const text = await res.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
    const code = body.error?.code;
    const message = body.error?.message;
    if (isErrorCode(code) && typeof message === 'string')
      return new WorkcellApiError(res.status, code, message);
  } catch {
    // Not JSON: a proxy's page or an empty body; described by the status below.
  }
  const detail = text.trim().slice(0, 200);
  return new WorkcellApiError(
    res.status,
    codeForStatus(res.status),
    `HTTP ${res.status}${detail ? `: ${detail}` : ''}`,
  );
}

/** The error for a request that got no HTTP answer at all. */
export function unreachable(url: string, cause: unknown): WorkcellApiError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new WorkcellApiError(0, 'dependency_unavailable', `cannot reach ${url}: ${reason}`, {
    cause,
  });
}
