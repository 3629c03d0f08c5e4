import { PassThrough, type Readable } from 'node:stream';
import { WorkcellError, type TerminalEndReason } from '@workcell/protocol';
import type { Logger } from 'pino';
import type { Orchestrator } from '../containers/orchestrator.js';
import type { ContainerRuntime, TerminalSession } from '../containers/runtime.js';
import type { SlotStore } from '../containers/slots.js';
import type { TerminalActivity } from '../containers/terminal-activity.js';
import { LEASES, leaseHolder, takeLease, type HeldLease } from '../state/leases.js';
import type { ContainerRecord, ContainerState, StateStore } from '../state/state-store.js';
import type { Clock, Timer } from '../time/clock.js';
import type { Workspaces } from '../workspace/hold.js';

/** The shell a terminal runs: bash as a login shell, so the image's profile applies. */
const SHELL = ['/bin/bash', '-l'];
/** States of an assigned container a terminal joins as it is, without the workspace lock. */
const JOINABLE: readonly ContainerState[] = ['assigned', 'idle', 'running'];

export interface TerminalSettings {
  /** A terminal with neither input nor output this long is closed. */
  idleTimeoutMs: number;
  maxPerWorkspace: number;
  maxPerHost: number;
}

export interface TerminalDeps {
  containers: Pick<Orchestrator, 'assigned' | 'isLocal'>;
  /**
   * Holds the workspace while a terminal acquires its container (admission, the workspace lock,
   * sync in) and while it syncs out at close, as for a run.
   */
  workspaces: Workspaces;
  runtime: Pick<ContainerRuntime, 'terminal'>;
  state: StateStore;
  slots: Pick<SlotStore, 'slot'>;
  activity: TerminalActivity;
  /** Counts open terminals (metrics). */
  observer?: { terminalOpened(): void; terminalClosed(): void };
  clock: Clock;
  logger: Logger;
  hostId: string;
  settings: TerminalSettings;
}

/** One open terminal, as the API route drives it. */
export interface OpenTerminal {
  readonly id: number;
  readonly containerId: string;
  readonly output: Readable;
  write(data: Buffer): void;
  resize(cols: number, rows: number): Promise<void>;
  /** Settles once, when the terminal has ended (and its changes were synced out when possible). */
  readonly ended: Promise<{ exitCode: number | null; reason: TerminalEndReason }>;
  /** Ends the terminal (hang-up) for `reason`; answers when it has ended. */
  close(reason: TerminalEndReason): Promise<void>;
}

interface WorkspaceTerminals {
  lease: HeldLease;
  open: Set<number>;
}

/**
 * Interactive shells in workspace containers. Opening one acquires the workspace's container as
 * a message would (under the workspace lock, held only while acquiring), or joins the container it
 * already has, even mid-run: a terminal never blocks a run. While a workspace has an open
 * terminal here, this host holds its `terminal:<wid>` lease, and retiring a container (idle
 * timeout, capacity) leaves it alone. What a terminal changes in /workspace is kept by any sync
 * in (`TerminalActivity`), synced out by every run's end, and synced out when it closes.
 */
export class TerminalService {
  private nextId = 1;
  private readonly sessions = new Map<number, OpenTerminal>();
  private readonly workspaces = new Map<string, WorkspaceTerminals>();
  /** Opens in progress per workspace, serialised so the lease and the caps are counted once. */
  private readonly opening = new Map<string, Promise<unknown>>();
  private pending = 0;
  private closed = false;

  constructor(private readonly deps: TerminalDeps) {}

  /** Terminals open on this host now. */
  get openCount(): number {
    return this.sessions.size;
  }

  /**
   * Opens a shell in the workspace's container. Throws `too_many_terminals` over a cap,
   * `workspace_busy` when the workspace's container cannot be had now (a run is starting on
   * another host), `shutting_down` while the host stops.
   */
  async open(
    tenant: string,
    workspaceId: string,
    size: { cols: number; rows: number },
  ): Promise<OpenTerminal> {
    if (this.closed) throw new WorkcellError('shutting_down', 'the host is shutting down');
    const { maxPerHost } = this.deps.settings;
    if (this.sessions.size + this.pending >= maxPerHost)
      throw new WorkcellError(
        'too_many_terminals',
        `this host has ${maxPerHost} terminals open, its limit`,
      );
    this.pending += 1;
    try {
      const previous = this.opening.get(workspaceId) ?? Promise.resolve();
      const next = previous
        .catch(() => undefined)
        .then(() => this.openSerialised(tenant, workspaceId, size));
      this.opening.set(workspaceId, next);
      try {
        return await next;
      } finally {
        if (this.opening.get(workspaceId) === next) this.opening.delete(workspaceId);
      }
    } finally {
      this.pending -= 1;
    }
  }

  private async openSerialised(
    tenant: string,
    workspaceId: string,
    size: { cols: number; rows: number },
  ): Promise<OpenTerminal> {
    const { maxPerWorkspace } = this.deps.settings;
    const existing = this.workspaces.get(workspaceId);
    if (existing && existing.open.size >= maxPerWorkspace)
      throw new WorkcellError(
        'too_many_terminals',
        `this workspace has ${maxPerWorkspace} terminals open, its limit`,
      );
    const group = existing ?? (await this.takeWorkspace(workspaceId));
    const id = this.nextId++;
    group.open.add(id);
    let record: ContainerRecord | null = null;
    try {
      record = await this.container(tenant, workspaceId);
      this.deps.activity.opened(record.slotId);
      const session = await this.deps.runtime.terminal(record.id, {
        command: SHELL,
        cols: size.cols,
        rows: size.rows,
        env: { TERM: 'xterm-256color', COLORTERM: 'truecolor' },
      });
      const terminal = this.track(id, tenant, workspaceId, record, session);
      this.sessions.set(id, terminal);
      this.deps.observer?.terminalOpened();
      return terminal;
    } catch (err) {
      if (record) this.deps.activity.closed(record.slotId);
      await this.leaveWorkspace(workspaceId, id);
      throw err;
    }
  }

  /** Takes the workspace's terminal lease for this host's first terminal in it. */
  private async takeWorkspace(workspaceId: string): Promise<WorkspaceTerminals> {
    const { state, clock, logger, hostId } = this.deps;
    const lease = await takeLease(
      { state, clock, logger },
      {
        name: LEASES.terminal(workspaceId),
        holder: leaseHolder('terminal', hostId),
        ttlMs: this.deps.workspaces.lockTtlMs,
        retake: true,
      },
    );
    if (!lease)
      throw new WorkcellError(
        'workspace_busy',
        "another host holds this workspace's open terminals; retry when they close",
      );
    const group: WorkspaceTerminals = { lease, open: new Set() };
    this.workspaces.set(workspaceId, group);
    return group;
  }

  private async leaveWorkspace(workspaceId: string, id: number): Promise<void> {
    const group = this.workspaces.get(workspaceId);
    if (!group) return;
    group.open.delete(id);
    if (group.open.size > 0) return;
    this.workspaces.delete(workspaceId);
    await group.lease.release();
  }

  /**
   * The workspace's container: the one it has on this host when it is up (even mid-run),
   * otherwise acquired as a message would acquire it (`workspace/hold.ts`), under the workspace
   * lock held only until it is synced in.
   */
  private async container(tenant: string, workspaceId: string): Promise<ContainerRecord> {
    const { containers, hostId, workspaces } = this.deps;
    const current = await containers.assigned(workspaceId);
    if (current && containers.isLocal(current) && JOINABLE.includes(current.state)) return current;
    const hold = await workspaces.take(workspaceId, leaseHolder('terminal', hostId));
    if (hold) {
      try {
        return (await hold.enter(tenant)).record;
      } finally {
        await hold.release();
      }
    }
    // A run is starting: its container is this host's once it is acquired.
    const again = await containers.assigned(workspaceId);
    if (again && containers.isLocal(again) && JOINABLE.includes(again.state)) return again;
    throw new WorkcellError(
      'workspace_busy',
      "the workspace's container is being prepared; retry in a moment",
    );
  }

  private track(
    id: number,
    tenant: string,
    workspaceId: string,
    record: ContainerRecord,
    session: TerminalSession,
  ): OpenTerminal {
    const { clock, settings, logger } = this.deps;
    const log = logger.child({ workspaceId, containerId: record.id, terminal: id });
    let lastActive = clock.now();
    let reason: TerminalEndReason | null = null;
    let idleTimer: Timer | null = null;
    const watchIdle = (waitMs: number): void => {
      idleTimer = clock.after(waitMs, () => {
        const quietMs = clock.now() - lastActive;
        if (quietMs >= settings.idleTimeoutMs) {
          log.info({ idleTimeoutMs: settings.idleTimeoutMs }, 'terminal idle; closing it');
          void terminal.close('idle');
        } else watchIdle(settings.idleTimeoutMs - quietMs);
      });
    };
    watchIdle(settings.idleTimeoutMs);
    // Output waits here, with back-pressure, until the route reads it (the prompt included).
    const output = new PassThrough();
    session.output.on('data', (chunk: Buffer) => {
      lastActive = clock.now();
      if (!output.write(chunk)) session.output.pause();
    });
    output.on('drain', () => session.output.resume());
    session.output.on('end', () => output.end());
    session.output.on('close', () => output.end());
    session.output.on('error', () => output.end());

    const ended = session.exited.then(async ({ exitCode }) => {
      idleTimer?.cancel();
      this.sessions.delete(id);
      this.deps.observer?.terminalClosed();
      this.deps.activity.closed(record.slotId);
      await this.syncOut(tenant, workspaceId, record, log);
      await this.leaveWorkspace(workspaceId, id);
      log.info({ exitCode, reason: reason ?? 'exited' }, 'terminal ended');
      return { exitCode, reason: reason ?? ('exited' as const) };
    });
    log.info('terminal opened');
    const terminal: OpenTerminal = {
      id,
      containerId: record.id,
      output,
      ended,
      write: (data) => {
        lastActive = clock.now();
        session.write(data);
      },
      resize: (cols, rows) => session.resize(cols, rows),
      close: async (why) => {
        reason ??= why;
        await session.close();
        await ended;
      },
    };
    return terminal;
  }

  /**
   * Syncs the container's files out after a terminal ends, under the workspace lock. When a run
   * holds the lock, its own sync out at its end stores the terminal's changes.
   */
  private async syncOut(
    tenant: string,
    workspaceId: string,
    record: ContainerRecord,
    log: Logger,
  ): Promise<void> {
    const { hostId, slots, containers, workspaces } = this.deps;
    try {
      const done = await workspaces.syncOutUnheld(
        tenant,
        workspaceId,
        leaseHolder('terminal', hostId),
        slots.slot(record.slotId),
        async () => {
          const current = await containers.assigned(workspaceId);
          // Retired or replaced meanwhile: the retiring sync out already stored its files.
          return current?.id === record.id && current.state !== 'removing';
        },
      );
      if (!done) log.info('a run holds the workspace; its sync out stores the changes');
    } catch (err) {
      // The changes stay in the container: the next run's or the retiring sync out stores them.
      log.error({ err }, 'sync out after the terminal failed');
    }
  }

  /** Ends every terminal (shutdown), each synced out. */
  async closeAll(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.sessions.values()].map((t) => t.close('shutdown')));
  }
}
