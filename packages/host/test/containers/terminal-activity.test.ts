import { describe, expect, it } from 'vitest';
import { TerminalActivity } from '../../src/containers/terminal-activity.js';

describe('TerminalActivity', () => {
  it('marks a slot unsynced from a terminal opening until a sync out that ran with none open', () => {
    const a = new TerminalActivity();
    expect(a.unsynced('s1')).toBe(false);
    a.opened('s1');
    a.opened('s1');
    a.opened('s2');
    expect(a.total).toBe(3);
    expect(a.openIn('s1')).toBe(2);

    // A sync out while a terminal is open leaves the slot unsynced: the terminal writes on.
    const during = a.syncOutStarted('s1');
    a.closed('s1');
    a.closed('s1');
    during();
    expect(a.unsynced('s1')).toBe(true);

    const after = a.syncOutStarted('s1');
    after();
    expect(a.unsynced('s1')).toBe(false);
    expect(a.unsynced('s2')).toBe(true);

    // A terminal opening during a sync out keeps the slot unsynced.
    a.closed('s2');
    const racing = a.syncOutStarted('s2');
    a.opened('s2');
    racing();
    expect(a.unsynced('s2')).toBe(true);
    a.forget('s2');
    expect(a.unsynced('s2')).toBe(false);
  });

  it('keeps a slot whose sync out failed unsynced until a sync out succeeds', () => {
    const a = new TerminalActivity();
    a.syncOutStarted('s1');
    a.syncOutFailed('s1');
    expect(a.unsynced('s1')).toBe(true);
    a.syncOutStarted('s1')();
    expect(a.unsynced('s1')).toBe(false);
  });
});
