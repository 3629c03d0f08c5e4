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

export function sendError(
  reply: FastifyReply,
  err: unknown,
  request?: FastifyRequest,
): FastifyReply {
  const { status, body } = errorResponse(err);
  if (status >= 500) request?.log.error({ err }, 'request failed');
  if (
    err instanceof WorkcellError &&
    (err.code === 'rate_limited' || err.code === 'host_at_capacity') &&
    err.details?.retryAfterSeconds
  ) {
    void reply.header('retry-after', String(err.details.retryAfterSeconds));
  }
  return reply.code(status).type('application/json').send({ error: body });
}
