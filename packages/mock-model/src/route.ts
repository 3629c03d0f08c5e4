/** What every route handler of the mock receives, and the record it fills in. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';

/** One request the mock received, as tests inspect it. */
export interface ReceivedRequest {
  api: 'anthropic' | 'bedrock';
  method: string;
  /** The request target exactly as received (percent-encoding and query included). */
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** Every `x-api-key` value the request carried. */
  apiKeys: string[];
  /** Every `authorization` value the request carried. */
  authorization: string[];
  /** The SigV4 verdict of a Bedrock request when verification is on; null otherwise. */
  signatureValid: boolean | null;
  stream: boolean;
  model: string | null;
  /** The request's `thinking` setting, as sent (null when absent). */
  thinking: unknown;
  /** The latest user prompt the turn read (system reminders removed). */
  userText: string | null;
  /** When the request arrived (epoch milliseconds). */
  at: number;
}

export interface RouteContext {
  req: IncomingMessage;
  res: ServerResponse;
  body: Buffer;
  /** The request's record; handlers fill in what they learn from the body. */
  record: ReceivedRequest;
  requestId: string;
  logger: Logger;
}

/** Logs that the client went away before its reply was complete (the turn's work stops). */
export function noteClientLeft(ctx: RouteContext): void {
  ctx.logger.debug(
    { path: ctx.record.path },
    'mock-model client left before the reply was complete',
  );
}
