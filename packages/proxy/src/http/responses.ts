import type { ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { ERROR_STATUS, type ErrorCode } from '@workcell/protocol';
import { RETRY_AFTER_SECONDS } from '../limits/limits.js';
import type { DenyReason } from '../policy/policy.js';
import type { SecretRefusalReason } from '../secrets/secrets.js';
import type { HeaderRefusal } from './headers.js';

/** The header that carries a denial's machine-readable reason. */
export const DENIED_HEADER = 'X-Workcell-Egress-Denied';

/** Why the proxy answered a request itself rather than forwarding it (audit `reason`). */
export type RefusalReason =
  | 'malformed-request'
  | 'too-many-headers'
  | 'invalid-target'
  | 'host-mismatch'
  | 'origin-form-not-routed'
  | 'route-not-configured'
  | 'unknown-route'
  | 'method-not-allowed'
  | 'no-credential'
  | 'body-too-large'
  | 'body-budget-exhausted'
  | 'connection-limit'
  | 'tunnel-limit'
  | 'connect-failed'
  | 'upstream-failed'
  | 'upstream-tls-failed'
  | 'upstream-invalid-response'
  | 'internal-error';

/** A refusal the proxy answers itself: status, error code, message, and the reason for audit. */
export interface ProxyAnswer {
  readonly status: number;
  readonly code: ErrorCode;
  readonly reason: RefusalReason | DenyReason | SecretRefusalReason;
  readonly message: string;
  /** Set for policy denials: sent as `X-Workcell-Egress-Denied`. */
  readonly denied: boolean;
  /** Seconds, sent as `Retry-After` (limits that clear by themselves). */
  readonly retryAfterSeconds?: number;
}

export function denial(reason: DenyReason | SecretRefusalReason, message: string): ProxyAnswer {
  return {
    status: ERROR_STATUS.egress_denied,
    code: 'egress_denied',
    reason,
    message,
    denied: true,
  };
}

/**
 * The answer to a request refused for a placeholder: a denial (403), or 502 `secret_unusable`
 * when the stored value itself cannot be sent.
 */
export function secretAnswer(reason: SecretRefusalReason, message: string): ProxyAnswer {
  if (reason === 'secret-unusable')
    return {
      status: ERROR_STATUS.secret_unusable,
      code: 'secret_unusable',
      reason,
      message,
      denied: false,
    };
  return denial(reason, message);
}

export function refusal(
  code: ErrorCode,
  reason: RefusalReason,
  message: string,
  retryAfterSeconds?: number,
): ProxyAnswer {
  const answer = { status: ERROR_STATUS[code], code, reason, message, denied: false };
  return retryAfterSeconds === undefined ? answer : { ...answer, retryAfterSeconds };
}

/** The answer to a request whose body does not fit in the proxy's shared body budget now. */
export const BODY_BUDGET_EXHAUSTED: ProxyAnswer = refusal(
  'proxy_at_capacity',
  'body-budget-exhausted',
  'the proxy holds too many request bodies right now; retry shortly',
  RETRY_AFTER_SECONDS,
);

function body(answer: ProxyAnswer): string {
  return JSON.stringify({ error: { code: answer.code, message: answer.message } });
}

/** Answers on an HTTP response and closes the connection after it. */
export function sendAnswer(res: ServerResponse, answer: ProxyAnswer): void {
  if (res.destroyed || res.writableEnded) return;
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const text = body(answer);
  const headers: Record<string, string | number> = {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
    Connection: 'close',
  };
  if (answer.denied) headers[DENIED_HEADER] = answer.reason;
  if (answer.retryAfterSeconds !== undefined) headers['Retry-After'] = answer.retryAfterSeconds;
  res.shouldKeepAlive = false;
  res.writeHead(answer.status, headers);
  res.end(text);
}

/** Answers on a raw socket (CONNECT, parse errors) and ends it. */
export function writeRawAnswer(socket: Duplex, answer: ProxyAnswer): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const text = body(answer);
  const lines = [
    `HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status] ?? 'Error'}`,
    'Content-Type: application/json',
    `Content-Length: ${Buffer.byteLength(text)}`,
    'Connection: close',
  ];
  if (answer.denied) lines.push(`${DENIED_HEADER}: ${answer.reason}`);
  if (answer.retryAfterSeconds !== undefined)
    lines.push(`Retry-After: ${answer.retryAfterSeconds}`);
  socket.end(`${lines.join('\r\n')}\r\n\r\n${text}`);
}

/** 431 for a request past the header cap, 400 for any other header refusal. */
export function headerRefusal(err: HeaderRefusal): ProxyAnswer {
  return err.reason === 'too-many-headers'
    ? refusal('headers_too_large', 'too-many-headers', err.message)
    : refusal('bad_request', 'malformed-request', err.message);
}
