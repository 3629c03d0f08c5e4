import {
  ERROR_STATUS,
  WorkcellError,
  isErrorCode,
  type ErrorBody,
  type ErrorCode,
} from '@workcell/protocol';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';

/** Fastify's own error codes mapped onto ours. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'bad_request',
  FST_ERR_VALIDATION: 'validation_failed',
};

/** The `{code, message}` and status for anything a handler threw. */
export function errorResponse(err: unknown): { status: number; body: ErrorBody } {
  if (err instanceof WorkcellError) return { status: err.status, body: err.toBody() };
  const fe = err as Partial<FastifyError> & { code?: string; statusCode?: number };
  const mapped = fe.code ? FASTIFY_CODES[fe.code] : undefined;
  if (mapped)
    return { status: ERROR_STATUS[mapped], body: { code: mapped, message: fe.message ?? mapped } };
  if (typeof fe.code === 'string' && isErrorCode(fe.code)) {
    return {
      status: ERROR_STATUS[fe.code],
      body: { code: fe.code, message: fe.message ?? fe.code },
    };
  }
  if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) {
    return {
      status: fe.statusCode,
      body: { code: 'bad_request', message: fe.message ?? 'bad request' },
    };
  }
  return { status: 500, body: { code: 'internal', message: 'internal error' } };
}

/** Codes whose answer carries `Retry-After` (from the error's `retryAfterSeconds`). */
const RETRY_LATER: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'rate_limited',
  'host_at_capacity',
  'dependency_unavailable',
]);

/** The `Retry-After` seconds of an error a client should retry later, or null. */
export function retryAfterSeconds(err: unknown): number | null {
  if (!(err instanceof WorkcellError) || !RETRY_LATER.has(err.code)) return null;
  const seconds = err.details?.retryAfterSeconds;
  if (typeof seconds === 'number' && seconds > 0) return seconds;
  // A store that failed a call: worth trying again in a few seconds.
  return err.code === 'dependency_unavailable' ? DEPENDENCY_RETRY_AFTER_SECONDS : null;
}

/** `Retry-After` of a `dependency_unavailable` that does not say. */
export const DEPENDENCY_RETRY_AFTER_SECONDS = 5;

export function sendError(
  reply: FastifyReply,
  err: unknown,
  request?: FastifyRequest,
): FastifyReply {
  const { status, body } = errorResponse(err);
  if (status >= 500) request?.log.error({ err }, 'request failed');
  const retryAfter = retryAfterSeconds(err);
  if (retryAfter !== null) void reply.header('retry-after', String(retryAfter));
  return reply.code(status).type('application/json').send({ error: body });
}
