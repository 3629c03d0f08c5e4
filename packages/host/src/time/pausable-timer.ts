import type { Clock, Timer } from './clock.js';

/**
 * A timer that can be paused and resumed: time spent paused does not count. Pauses nest (each
 * `pause` needs its `resume`), so several waits may overlap.
 */
export class PausableTimer implements Timer {
  private remainingMs: number;
  private startedAt: number;
  private timer: Timer | null = null;
  private pauses = 0;
  private done = false;

  constructor(
    private readonly clock: Clock,
    ms: number,
    private readonly fn: () => void,
  ) {
    this.remainingMs = ms;
    this.startedAt = clock.now();
    this.arm();
  }

  pause(): void {
    if (this.done) return;
    this.pauses += 1;
    if (this.pauses > 1 || !this.timer) return;
    this.timer.cancel();
    this.timer = null;
    this.remainingMs = Math.max(0, this.remainingMs - (this.clock.now() - this.startedAt));
  }

  resume(): void {
    if (this.done || this.pauses === 0) return;
    this.pauses -= 1;
    if (this.pauses === 0) {
      this.startedAt = this.clock.now();
      this.arm();
    }
  }

  cancel(): void {
    this.done = true;
    this.timer?.cancel();
    this.timer = null;
  }

  private arm(): void {
    this.timer = this.clock.after(this.remainingMs, () => {
      this.done = true;
      this.timer = null;
      this.fn();
    });
  }
}
