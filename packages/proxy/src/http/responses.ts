import type { ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { ERROR_STATUS, type ErrorCode } from '@workcell/protocol';
import type { DenyReason } from '../policy/policy.js';

/** Machine-readable reasons of the refusals that are not policy denials (kept in audit records). */
export type RefusalReason =
  | 'invalid-target'
  | 'malformed-request'
  | 'internal-error'
  | 'no-credential'
  | 'upstream-failed'
  | 'body-too-large'
  | 'connect-failed'
  | 'host-mismatch'
  | 'method-not-allowed'
  | 'origin-form-not-routed'
  | 'route-not-configured'
  | 'unknown-route';

/** The header that carries a denial's machine-readable reason. */
export const DENIED_HEADER = 'X-Workcell-Egress-Denied';

/** A refusal the proxy answers itself: status, error code, message, and the reason for audit. */
export interface ProxyAnswer {
  readonly status: number;
  readonly code: ErrorCode;
  readonly reason: DenyReason | RefusalReason;
  readonly message: string;
  /** Set for policy denials: sent as `X-Workcell-Egress-Denied`. */
  readonly denied: boolean;
}

export function denial(reason: DenyReason, message: string): ProxyAnswer {
  return {
    status: ERROR_STATUS.egress_denied,
    code: 'egress_denied',
    reason,
    message,
    denied: true,
  };
}

export function refusal(code: ErrorCode, reason: RefusalReason, message: string): ProxyAnswer {
  return { status: ERROR_STATUS[code], code, reason, message, denied: false };
}

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
  socket.end(`${lines.join('\r\n')}\r\n\r\n${text}`);
}
