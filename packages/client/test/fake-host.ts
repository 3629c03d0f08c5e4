import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request the fake host saw. */
export interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, seen: Seen) => void;

/**
 * A scripted HTTP server for the client's unit tests: each request goes to the next handler in
 * the list (the last one repeats), so a test decides exactly what each connection answers.
 */
export async function fakeHost(handlers: Handler[]): Promise<{
  url: string;
  seen: Seen[];
  close(): Promise<void>;
}> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const entry = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      };
      seen.push(entry);
      const handler = handlers[Math.min(seen.length - 1, handlers.length - 1)];
      handler?.(req, res, entry);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export const frame = (seq: number, event: string, data: unknown): string =>
  `id: ${seq}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

/** Starts an SSE answer, writes `frames`, then either ends it or cuts the socket. */
export function sse(frames: string[], end: 'end' | 'cut' | 'hang', runId?: string): Handler {
  return (_req, res) => {
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      ...(runId ? { 'x-workcell-run-id': runId } : {}),
    });
    res.write('retry: 2000\n\n');
    res.write(frames.join(''));
    if (end === 'end') res.end();
    else if (end === 'cut') setTimeout(() => res.socket?.destroy(), 20);
  };
}

export function json(status: number, body: unknown): Handler {
  return (_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
}
