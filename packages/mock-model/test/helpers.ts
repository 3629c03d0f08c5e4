/** Shared helpers for the mock model's tests: raw HTTP, SSE parsing, request bodies. */
import { request as httpRequest, type OutgoingHttpHeaders } from 'node:http';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/**
 * Sends one request with node:http so the path goes out byte for byte (fetch would normalise
 * it) and headers are exactly the ones given.
 */
export function rawRequest(
  baseUrl: string,
  options: { method: string; path: string; headers?: OutgoingHttpHeaders; body?: string | Buffer },
): Promise<RawResponse> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        method: options.method,
        path: options.path,
        headers: options.headers,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

export interface SseEvent {
  event: string;
  data: Record<string, unknown>;
}

/** Parses an SSE body into its events (`event:` name and JSON `data:`). */
export function parseSse(text: string): SseEvent[] {
  return text
    .split('\n\n')
    .filter((frame) => frame.trim().length > 0)
    .map((frame) => {
      let event = '';
      let data = '';
      for (const line of frame.split('\n')) {
        if (line.startsWith('event: ')) event = line.slice('event: '.length);
        else if (line.startsWith('data: ')) data += line.slice('data: '.length);
      }
      return { event, data: JSON.parse(data) as Record<string, unknown> };
    });
}

export type Message = { role: string; content: unknown };

/** A Messages API body with the SDK's shape: tools offered, streaming unless told otherwise. */
export function messagesBody(messages: Message[], extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    model: 'claude-test-model',
    max_tokens: 1024,
    stream: true,
    tools: [
      { name: 'Write', input_schema: { type: 'object' } },
      { name: 'Bash', input_schema: { type: 'object' } },
    ],
    messages,
    ...extra,
  });
}

/** Posts a Messages body with fetch and returns the status and body text. */
export async function postMessages(
  baseUrl: string,
  body: string,
  init: { path?: string; headers?: Record<string, string>; signal?: AbortSignal } = {},
): Promise<{ status: number; contentType: string | null; text: string }> {
  const response = await fetch(`${baseUrl}${init.path ?? '/v1/messages?beta=true'}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': 'test-key', ...init.headers },
    body,
    signal: init.signal,
  });
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    text: await response.text(),
  };
}

/** The text a stream of events spells out (all text deltas, in order). */
export function streamedText(events: SseEvent[]): string {
  return events
    .filter((e) => e.event === 'content_block_delta')
    .map((e) => (e.data.delta as { type: string; text?: string }).text ?? '')
    .join('');
}

/** The reminder block the SDK puts before the user's text. */
export const REMINDER =
  '<system-reminder>\nAs you answer, MOCK:{"text":"not me"} is context.\n</system-reminder>';

/** A user message the way the SDK sends one: a reminder block, then the prompt. */
export function userMessage(prompt: string): Message {
  return {
    role: 'user',
    content: [
      { type: 'text', text: REMINDER },
      { type: 'text', text: prompt },
    ],
  };
}

/** A debug-level logger whose lines are kept in `lines`, so a test can see what the mock did. */
export function captureLogs(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(chunk.toString());
      callback();
    },
  });
  return { logger: pino({ level: 'debug' }, sink), lines };
}
