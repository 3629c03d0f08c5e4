import { pino, type Logger } from 'pino';
import type { ResolvedConfig } from './config/load.js';

/** Log paths that may carry secrets; pino replaces them before anything is written. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'headers.authorization',
  'headers["x-api-key"]',
  'apiKey',
  'secretAccessKey',
  'sessionToken',
  'token',
];

export function createLogger(
  level: ResolvedConfig['logLevel'],
  destination?: pino.DestinationStream,
): Logger {
  return pino(
    { name: 'workcell', level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } },
    destination,
  );
}
