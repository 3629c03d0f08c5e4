import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/time/clock.js';
import { PausableTimer } from '../../src/time/pausable-timer.js';

describe('a run timeout that pauses while a person decides', () => {
  it('fires after its time, not counting the time spent paused', () => {
    const clock = new ManualClock(0);
    let fired = 0;
    const timer = new PausableTimer(clock, 1000, () => (fired += 1));
    clock.advance(600);
    timer.pause();
    clock.advance(10_000);
    expect(fired).toBe(0);
    timer.resume();
    clock.advance(399);
    expect(fired).toBe(0);
    clock.advance(1);
    expect(fired).toBe(1);
  });

  it('stays paused until every overlapping wait has ended', () => {
    const clock = new ManualClock(0);
    let fired = 0;
    const timer = new PausableTimer(clock, 100, () => (fired += 1));
    timer.pause();
    timer.pause();
    timer.resume();
    clock.advance(1000);
    expect(fired).toBe(0);
    timer.resume();
    clock.advance(100);
    expect(fired).toBe(1);
  });

  it('never fires once cancelled, paused or not', () => {
    const clock = new ManualClock(0);
    let fired = 0;
    const timer = new PausableTimer(clock, 100, () => (fired += 1));
    timer.pause();
    timer.cancel();
    timer.resume();
    clock.advance(1000);
    expect(fired).toBe(0);
  });
});
