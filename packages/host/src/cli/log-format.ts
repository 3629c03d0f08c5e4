import type { DestinationStream, Logger } from 'pino';
import type { ResolvedConfig } from '../config/load.js';
import { createLogger } from '../logger.js';

/** How the command line writes logs: coloured lines for a person, JSON lines for a machine. */
export type LogFormat = 'pretty' | 'json';

/** Pretty on a terminal, JSON otherwise (a file, a pipe, a log collector). */
export function chooseLogFormat(stream: { isTTY?: boolean }): LogFormat {
  return stream.isTTY === true ? 'pretty' : 'json';
}

const LEVELS: Record<number, { name: string; colour: string }> = {
  10: { name: 'TRACE', colour: '\x1b[90m' },
  20: { name: 'DEBUG', colour: '\x1b[36m' },
  30: { name: 'INFO', colour: '\x1b[32m' },
  40: { name: 'WARN', colour: '\x1b[33m' },
  50: { name: 'ERROR', colour: '\x1b[31m' },
  60: { name: 'FATAL', colour: '\x1b[41m\x1b[97m' },
};
const RESET = '\x1b[0m';
const DIM = '\x1b[2m';
/** Fields every pino line carries that a person reading a terminal does not need. */
const HIDDEN = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'name', 'err']);

function field(value: unknown): string {
  if (typeof value === 'string') return /[\s"=]/.test(value) ? JSON.stringify(value) : value;
  return JSON.stringify(value) ?? String(value);
}

/**
 * One pino JSON line as a person reads it: `12:03:04.567 INFO  message key=value`, the level
 * coloured, an error's stack on the lines below. A line that is not JSON passes unchanged.
 */
export function prettyLine(line: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line.endsWith('\n') ? line : `${line}\n`;
  }
  const level = LEVELS[Number(entry.level)] ?? { name: 'LOG', colour: '' };
  const time =
    typeof entry.time === 'number' ? new Date(entry.time).toISOString().slice(11, 23) : '';
  const fields = Object.entries(entry)
    .filter(([key]) => !HIDDEN.has(key))
    .map(([key, value]) => `${DIM}${key}=${RESET}${field(value)}`)
    .join(' ');
  let out = `${DIM}${time}${RESET} ${level.colour}${level.name.padEnd(5)}${RESET} ${String(entry.msg ?? '')}`;
  if (fields) out += ` ${fields}`;
  const err = entry.err as { stack?: unknown; message?: unknown } | undefined;
  if (err && typeof err === 'object') {
    const stack = typeof err.stack === 'string' ? err.stack : String(err.message ?? '');
    out += `\n${level.colour}${stack.replace(/^/gm, '    ')}${RESET}`;
  }
  return `${out}\n`;
}

/** A pino destination that writes each line to `out` through `prettyLine`. */
export function prettyDestination(out: NodeJS.WritableStream): DestinationStream {
  return { write: (line: string) => void out.write(prettyLine(line)) };
}

/** The command line's logger: redacted like the host's, pretty or JSON by `out`. */
export function cliLogger(
  level: ResolvedConfig['logLevel'],
  out: NodeJS.WritableStream & { isTTY?: boolean } = process.stdout,
  format: LogFormat = chooseLogFormat(out),
): Logger {
  return createLogger(level, format === 'pretty' ? prettyDestination(out) : out);
}
