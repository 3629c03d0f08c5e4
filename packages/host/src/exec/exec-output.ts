import type { ExecChunk } from '../containers/runtime.js';

/**
 * Keeps the first `capBytes` of a command's stdout and as much of its stderr (the JSON answer);
 * the rest is counted and dropped, so a command that writes without end costs no memory.
 */
export class CappedOutput {
  private readonly kept = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
  private readonly size = { stdout: 0, stderr: 0 };
  private cut = false;

  constructor(private readonly capBytes: number) {}

  add(chunk: ExecChunk): void {
    const room = this.capBytes - this.size[chunk.stream];
    if (room <= 0) {
      this.cut = true;
      return;
    }
    const data = chunk.data.length > room ? chunk.data.subarray(0, room) : chunk.data;
    if (data.length < chunk.data.length) this.cut = true;
    this.kept[chunk.stream].push(Buffer.from(data));
    this.size[chunk.stream] += data.length;
  }

  /** Whether anything was dropped. */
  get truncated(): boolean {
    return this.cut;
  }

  /** A stream's kept bytes as UTF-8 text (a character cut by the cap becomes U+FFFD). */
  text(stream: ExecChunk['stream']): string {
    return Buffer.concat(this.kept[stream]).toString('utf8');
  }
}
