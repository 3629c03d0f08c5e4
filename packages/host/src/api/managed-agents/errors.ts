import { ERROR_STATUS, isErrorCode, type ErrorCode } from '@workcell/protocol';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { newResourceId } from '../../managed-agents/ids.js';
import { AnthropicApiError, type AnthropicErrorType } from '../../managed-agents/errors.js';
import { errorResponse, retryAfterSeconds } from '../errors.js';

function typeOfStatus(status: number): AnthropicErrorType {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 413) return 'request_too_large';
  if (status === 429) return 'rate_limit_error';
  if (status === 503) return 'overloaded_error';
  if (status >= 500) return 'api_error';
  return 'invalid_request_error';
}

/** Workcell's statuses that Anthropic's API spells differently. */
function anthropicStatus(status: number): number {
  return status === 503 ? 529 : status;
}

/** The status and body of anything a Managed Agents handler threw, in Anthropic's shape. */
export function anthropicError(err: unknown): {
  status: number;
  type: AnthropicErrorType;
  message: string;
} {
  if (err instanceof AnthropicApiError)
    return { status: err.status, type: err.type, message: err.message };
  const { status, body } = errorResponse(err);
  const code: ErrorCode | null = isErrorCode(body.code) ? body.code : null;
  const effective = code ? ERROR_STATUS[code] : status;
  return {
    status: anthropicStatus(effective),
    type: typeOfStatus(effective),
    message: effective >= 500 && effective !== 503 ? 'internal error' : body.message,
  };
}

/** Answers `err` as `{type: "error", error: {type, message}, request_id}`. */
export function sendAnthropicError(
  reply: FastifyReply,
  err: unknown,
  request: FastifyRequest,
): FastifyReply {
  const { status, type, message } = anthropicError(err);
  if (status >= 500 && status !== 529) request.log.error({ err }, 'request failed');
  const requestId = newResourceId('request');
  const retryAfter = retryAfterSeconds(err);
  if (retryAfter !== null) void reply.header('retry-after', String(retryAfter));
  // The SDK retries 409 and 5xx by default; only overload and rate limits are worth a retry.
  const retry = status === 429 || status === 529;
  return reply
    .code(status)
    .header('request-id', requestId)
    .header('x-should-retry', String(retry))
    .type('application/json')
    .send({ type: 'error', error: { type, message }, request_id: requestId });
}
