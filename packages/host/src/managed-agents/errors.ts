import { ERROR_STATUS, WorkcellError } from '@workcell/protocol';

/** The `error.type` values of Anthropic's API and the status each answers with. */
export const ANTHROPIC_ERROR_STATUS = {
  invalid_request_error: 400,
  authentication_error: 401,
  permission_error: 403,
  not_found_error: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  overloaded_error: 529,
} as const;
export type AnthropicErrorType = keyof typeof ANTHROPIC_ERROR_STATUS;

/** An error to answer in Anthropic's shape, with an explicit status (409 for conflicts). */
export class AnthropicApiError extends Error {
  constructor(
    readonly type: AnthropicErrorType,
    message: string,
    readonly status: number = ANTHROPIC_ERROR_STATUS[type],
  ) {
    super(message);
  }
}

/** A 400 naming a feature of the Managed Agents API this installation does not serve. */
export function unsupported(feature: string): AnthropicApiError {
  return new AnthropicApiError(
    'invalid_request_error',
    `${feature} is not supported by this Workcell installation`,
  );
}

export function notFound(what: string, id: string): AnthropicApiError {
  return new AnthropicApiError('not_found_error', `${what} ${id} not found`);
}

/** 409 with `invalid_request_error`, as Anthropic answers a request that conflicts with state. */
export function conflict(message: string): AnthropicApiError {
  return new AnthropicApiError('invalid_request_error', message, 409);
}

/** The HTTP status anything thrown answers with (500 for what is neither ours nor Workcell's). */
export function statusOf(err: unknown): number {
  if (err instanceof AnthropicApiError) return err.status;
  if (err instanceof WorkcellError) return ERROR_STATUS[err.code];
  return 500;
}
