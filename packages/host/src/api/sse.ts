import type { ServerResponse } from 'node:http';
import type { BufferedEvent } from '../state/state-store.js';

export const SSE_KEEPALIVE_MS = 15_000;

/** Writes Server-Sent Events on a raw response: `id:` is the event's seq in its run. */
export class SseWriter {
  private readonly keepalive: NodeJS.Timeout;
  private closed = false;

  constructor(private readonly res: ServerResponse, keepaliveMs = SSE_KEEPALIVE_MS) {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.flushHeaders();
    res.socket?.setNoDelay(true);
    this.keepalive = setInterval(() => this.comment('keep-alive'), keepaliveMs);
    res.on('close', () => this.dispose());
  }

  get isClosed(): boolean {
    return this.closed || this.res.destroyed;
  }

  send(event: BufferedEvent): boolean {
    if (this.isClosed) return false;
    return this.res.write(`id: ${event.seq}\nevent: ${event.event}\ndata: ${event.data}\n\n`);
  }

  comment(text: string): void {
    if (!this.isClosed) this.res.write(`: ${text}\n\n`);
  }

  end(): void {
    this.dispose();
    if (!this.res.writableEnded) this.res.end();
  }

  private dispose(): void {
    this.closed = true;
    clearInterval(this.keepalive);
  }
}
