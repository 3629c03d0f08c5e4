import type { ClientRequest, IncomingMessage, ServerResponse } from 'node:http';
import type { AuditEntry } from '../audit.js';
import { forwardableHeaders } from './headers.js';
import { refusal, sendAnswer } from './responses.js';

/**
 * Relays an upstream response to the container as it arrives: status, end-to-end headers
 * (content type included, so an event stream stays one), and each body chunk as it is read.
 * Redirects are relayed like any other status, never followed.
 */
export function relayResponse(
  upstream: IncomingMessage,
  res: ServerResponse,
  entry: AuditEntry,
): void {
  const status = upstream.statusCode ?? 502;
  entry.record.status = status;
  res.writeHead(status, upstream.statusMessage, forwardableHeaders(upstream.rawHeaders));
  res.flushHeaders();
  upstream.on('data', (chunk: Buffer) => {
    entry.record.bytesIn += chunk.length;
  });
  upstream.on('error', () => res.destroy());
  upstream.pipe(res);
}

/**
 * Sends the container's request body to the upstream as it arrives, counting bytes, and ties
 * the two exchanges together: the upstream request stops when the container goes away, and an
 * upstream failure before any response answers 503.
 */
export function relayRequest(
  req: IncomingMessage,
  res: ServerResponse,
  upstreamReq: ClientRequest,
  entry: AuditEntry,
  onUpstreamError: (err: Error) => void,
): void {
  wireUpstream(res, upstreamReq, entry, onUpstreamError);
  req.on('data', (chunk: Buffer) => {
    entry.record.bytesOut += chunk.length;
  });
  req.pipe(upstreamReq);
}

/** The shared half of `relayRequest`, for a body already in memory. */
export function wireUpstream(
  res: ServerResponse,
  upstreamReq: ClientRequest,
  entry: AuditEntry,
  onUpstreamError: (err: Error) => void,
): void {
  upstreamReq.on('response', (upstream) => relayResponse(upstream, res, entry));
  upstreamReq.on('error', (err) => {
    onUpstreamError(err);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    entry.record.reason = 'upstream-failed';
    entry.record.status = 503;
    sendAnswer(
      res,
      refusal('dependency_unavailable', 'upstream-failed', 'the upstream did not answer'),
    );
  });
  res.on('close', () => {
    if (!res.writableFinished) upstreamReq.destroy();
  });
}
