import type { ServerResponse } from 'node:http';
import type { BufferedEvent } from '../state/state-store.js';

export const SSE_KEEPALIVE_MS = 15_000;
/** Reconnection delay suggested to EventSource clients. */
export const SSE_RETRY_MS = 2_000;

/** An event of any stream: a run's (`BufferedEvent`) or another's, such as an exec's output. */
export type SseEvent = Pick<BufferedEvent, 'seq' | 'data'> & { event: string };

/** One event in SSE framing: `id:` is its seq in its stream; every line of data gets a `data:` field. */
export function formatSseEvent(event: SseEvent): string {
  const data = event.data
    .split(/\r\n|\r|\n/)
    .map((line) => `data: ${line}`)
    .join('\n');
  return `id: ${event.seq}\nevent: ${event.event}\n${data}\n\n`;
}

/**
 * Writes Server-Sent Events on a raw response, with a keep-alive comment every `keepaliveMs`
 * (null: someone else sends them, as SseHub does for all its streams with one timer).
 */
export class SseWriter {
  private readonly keepalive: NodeJS.Timeout | null;
  private closed = false;
  private readonly onDispose: () => void;

  constructor(
    private readonly res: ServerResponse,
    options: { keepaliveMs?: number | null; onDispose?: () => void } = {},
  ) {
    this.onDispose = options.onDispose ?? (() => undefined);
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    // Each event goes out at once (an injected test response has no real socket).
    if (typeof res.socket?.setNoDelay === 'function') res.socket.setNoDelay(true);
    res.write(`retry: ${SSE_RETRY_MS}\n\n`);
    const every = options.keepaliveMs === undefined ? SSE_KEEPALIVE_MS : options.keepaliveMs;
    this.keepalive = every === null ? null : setInterval(() => this.comment('keep-alive'), every);
    res.on('close', () => this.dispose());
  }

  get isClosed(): boolean {
    return this.closed || this.res.destroyed || this.res.writableEnded;
  }

  /** Writes one event; false when the socket's buffer is full (wait for `drained`) or the client is gone. */
  send(event: SseEvent): boolean {
    if (this.isClosed) return false;
    return this.res.write(formatSseEvent(event));
  }

  /** Writes several events in one write; false as for `send`. */
  sendMany(events: readonly SseEvent[]): boolean {
    if (this.isClosed) return false;
    let text = '';
    for (const e of events) text += formatSseEvent(e);
    return this.res.write(text);
  }

  /** Resolves once the socket can take more, or the client is gone. */
  drained(): Promise<void> {
    if (this.isClosed || !this.res.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        this.res.off('drain', done);
        this.res.off('close', done);
        resolve();
      };
      this.res.on('drain', done);
      this.res.on('close', done);
    });
  }

  comment(text: string): void {
    if (!this.isClosed) this.res.write(`: ${text}\n\n`);
  }

  end(): void {
    if (!this.res.writableEnded && !this.res.destroyed) this.res.end();
    this.dispose();
  }

  private dispose(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.keepalive) clearInterval(this.keepalive);
    this.onDispose();
  }
}

/**
 * Every SSE connection open on this API: one timer sends the keep-alive comments of all of
 * them, shutdown ends them, metrics count them.
 */
export class SseHub {
  private readonly open = new Set<SseWriter>();
  private ticker: NodeJS.Timeout | null = null;

  constructor(
    private readonly hooks: { opened?: () => void; closed?: () => void; keepaliveMs?: number } = {},
  ) {}

  get size(): number {
    return this.open.size;
  }

  /** Starts an SSE response on `res`. */
  start(res: ServerResponse): SseWriter {
    const writer: SseWriter = new SseWriter(res, {
      keepaliveMs: null,
      onDispose: () => {
        this.open.delete(writer);
        this.hooks.closed?.();
        if (this.open.size === 0 && this.ticker) {
          clearInterval(this.ticker);
          this.ticker = null;
        }
      },
    });
    this.open.add(writer);
    this.hooks.opened?.();
    this.ticker ??= setInterval(() => {
      for (const w of this.open) w.comment('keep-alive');
    }, this.hooks.keepaliveMs ?? SSE_KEEPALIVE_MS);
    return writer;
  }

  /** Ends every open stream (shutdown): clients see a clean end and may resume elsewhere. */
  endAll(): void {
    for (const writer of [...this.open]) writer.end();
  }
}
