import type { ChildMessage, ParentMessage } from '@workcell/proxy';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import {
  ProxyProcess,
  ProxyUnavailableError,
  restartDelayMs,
  type ProxyChild,
} from '../../src/egress/proxy-process.js';
import { ManualClock } from '../../src/time/clock.js';

const logger = pino({ level: 'silent' });

/** A proxy process stand-in: answers `init` as told, records what it was sent, dies on demand. */
class FakeChild implements ProxyChild {
  static nextPid = 1000;
  readonly pid = FakeChild.nextPid++;
  readonly sent: ParentMessage[] = [];
  private readonly messageListeners: Array<(m: ChildMessage) => void> = [];
  private readonly exitListeners: Array<(c: number | null, s: NodeJS.Signals | null) => void> = [];
  dead = false;

  constructor(private readonly onInit: 'ready' | 'fatal' | 'silent') {}

  send(message: ParentMessage): void {
    if (this.dead) return;
    this.sent.push(message);
    if (message.type === 'init' && this.onInit !== 'silent')
      queueMicrotask(() => {
        if (this.onInit === 'ready') this.emit({ type: 'ready' });
        else {
          this.emit({ type: 'fatal', message: 'bad CA' });
          this.die(1, null);
        }
      });
    if (message.type === 'shutdown')
      queueMicrotask(() => {
        this.emit({ type: 'reply', requestId: message.requestId, error: null });
        this.die(0, null);
      });
  }

  emit(message: ChildMessage): void {
    for (const l of this.messageListeners) l(message);
  }

  onMessage(listener: (message: ChildMessage) => void): void {
    this.messageListeners.push(listener);
  }

  onExit(listener: (code: number | null, signal: NodeJS.Signals | null) => void): void {
    this.exitListeners.push(listener);
  }

  kill(signal: NodeJS.Signals): void {
    this.die(null, signal);
  }

  die(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.dead) return;
    this.dead = true;
    for (const l of this.exitListeners.splice(0)) l(code, signal);
  }
}

function supervisor(
  behaviour: () => 'ready' | 'fatal' | 'silent' = () => 'ready',
  clock = new ManualClock(1_000_000),
): {
  proxy: ProxyProcess;
  children: FakeChild[];
  starts: number[];
  deaths: number;
  clock: ManualClock;
} {
  const children: FakeChild[] = [];
  const starts: number[] = [];
  const state = { deaths: 0 };
  const proxy = new ProxyProcess({
    launch: () => {
      const child = new FakeChild(behaviour());
      children.push(child);
      return child;
    },
    init: { logLevel: 'silent', anthropic: null, bedrock: null, limits: {}, interception: null },
    logger,
    childLogger: logger,
    audit: () => undefined,
    started: async (generation) => {
      starts.push(generation);
    },
    died: () => {
      state.deaths += 1;
    },
    clock,
  });
  return {
    proxy,
    children,
    starts,
    clock,
    get deaths() {
      return state.deaths;
    },
  };
}

const settle = async (): Promise<void> => {
  for (let i = 0; i < 10; i += 1) await Promise.resolve();
};

describe('the proxy process supervisor', () => {
  it('replaces a dead process at once with the standby, and starts a new standby', async () => {
    const s = supervisor();
    await s.proxy.start();
    await s.clock.advanceAsync(0);
    await settle();
    expect(s.children).toHaveLength(2);
    expect(s.proxy.status()).toMatchObject({ state: 'running', standby: true, restarts: 0 });
    const [active, standby] = s.children;

    active?.die(null, 'SIGKILL');
    await s.clock.advanceAsync(0);
    await settle();
    expect(s.starts).toEqual([1, 2]);
    expect(s.deaths).toBe(1);
    expect(s.proxy.status()).toMatchObject({
      state: 'running',
      pid: standby?.pid,
      restarts: 1,
      lastExit: { code: null, signal: 'SIGKILL' },
    });
    // The next standby is on its way.
    expect(s.children).toHaveLength(3);
    await s.proxy.stop();
    expect(s.children.every((c) => c.dead)).toBe(true);
  });

  it('fails the requests in flight when the process dies', async () => {
    const s = supervisor();
    await s.proxy.start();
    const pending = s.proxy.request({ type: 'close', id: 1 });
    s.children[0]?.die(1, null);
    await expect(pending).rejects.toBeInstanceOf(ProxyUnavailableError);
    await s.proxy.stop();
  });

  it('backs off, doubling and bounded, while processes keep dying young; a stable one resets it', async () => {
    expect([1, 2, 3, 4, 5, 20].map(restartDelayMs)).toEqual([0, 250, 500, 1_000, 2_000, 30_000]);
    const s = supervisor();
    await s.proxy.start();
    await s.clock.advanceAsync(0);
    await settle();

    const killActive = async (): Promise<void> => {
      const pid = s.proxy.status().pid;
      s.children.find((c) => c.pid === pid)?.die(1, null);
      await settle();
    };
    await killActive();
    await s.clock.advanceAsync(0);
    await settle();
    expect(s.proxy.status()).toMatchObject({ state: 'running', restarts: 1 });

    await killActive();
    expect(s.proxy.status().state).toBe('backoff');
    expect(s.proxy.status().pid).toBeNull();
    await s.clock.advanceAsync(249);
    expect(s.proxy.status().state).toBe('backoff');
    await s.clock.advanceAsync(1);
    await settle();
    expect(s.proxy.status()).toMatchObject({ state: 'running', restarts: 2 });

    // A process that ran past the stable time resets the back-off: replaced at once.
    await s.clock.advanceAsync(10_000);
    await settle();
    await killActive();
    await s.clock.advanceAsync(0);
    await settle();
    expect(s.proxy.status()).toMatchObject({ state: 'running', restarts: 3 });
    await s.proxy.stop();
  });

  it('refuses to start when the first process cannot be built', async () => {
    const s = supervisor(() => 'fatal');
    await expect(s.proxy.start()).rejects.toThrow(/cannot start: bad CA/);
    expect(s.proxy.status().state).toBe('stopped');
  });

  it('kills a process that does not answer init in time, and replaces it', async () => {
    let n = 0;
    const s = supervisor(() => (n++ === 2 ? 'silent' : 'ready'));
    await s.proxy.start();
    await s.clock.advanceAsync(0);
    await settle();
    // The standby (second) is ready; the active dies: the standby takes over and a third,
    // silent process becomes the standby, killed after the ready timeout.
    s.children[0]?.die(1, null);
    await s.clock.advanceAsync(0);
    await settle();
    expect(s.children).toHaveLength(3);
    expect(s.proxy.status().standby).toBe(false);
    await s.clock.advanceAsync(15_000);
    await settle();
    expect(s.children[2]?.dead).toBe(true);
    await s.clock.advanceAsync(2_000);
    await settle();
    expect(s.children).toHaveLength(4);
    expect(s.proxy.status()).toMatchObject({ state: 'running', standby: true, restarts: 1 });
    await s.proxy.stop();
  });
});
