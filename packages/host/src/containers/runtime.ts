/**
 * Labels every Workcell container carries; the GC finds what is ours by these, never by name.
 * `dataDir` scopes an installation: hosts that share a data directory (and so the slots) share
 * the containers; GC and reconcile never touch a container of another data directory.
 */
export const LABELS = {
  managed: 'workcell.managed',
  pool: 'workcell.pool',
  hostInstance: 'workcell.host',
  imageVersion: 'workcell.image',
  dataDir: 'workcell.data-dir',
  slot: 'workcell.slot',
} as const;

export type ContainerRuntimeName = 'runc' | 'runsc';

/** Everything needed to create one hardened workspace container. */
export interface ContainerSpec {
  /** Our own id for the container's host-side directory (mounts, sockets). */
  slotId: string;
  image: string;
  labels: Record<string, string>;
  /** Host directories bind-mounted into the container. */
  mounts: {
    /** Host dir holding agent.sock -> /run/workcell (read-write: the agent listens there) */
    socketDir: string;
    /** Host dir holding egress.sock -> /run/workcell-egress (read-only) */
    egressDir: string;
    /** Host dir -> /workspace */
    workspace: string;
    /** Host dir -> CLAUDE_CONFIG_DIR */
    claudeConfig: string;
    /**
     * Host dir with the Workcell CA's public certificate (`ca.crt`) and `bundle.crt` ->
     * /etc/workcell/trust, read-only; its bundle also replaces the system bundle. Absent when
     * secrets are off.
     */
    trust?: string;
  };
  /** Non-secret environment for the agent (model provider, region, bridge port). */
  env: Record<string, string>;
  limits: { memoryMb: number; cpus: number; pids: number; nofile: number };
  runtime: ContainerRuntimeName;
  /**
   * The container's CPU weight against the others when the cores are contended (the engine's
   * default, 1024, when absent): a warm pool container starts at `WARM_CPU_SHARES`.
   */
  cpuShares?: number;
}

/** The engine's default CPU weight: what a container doing a workspace's work runs at. */
export const DEFAULT_CPU_SHARES = 1024;
/**
 * A warm pool container's CPU weight until it is claimed: its start (the agent, a ready Claude
 * Code process) yields the cores to the runs in progress, among them the run whose claim it
 * replaces.
 */
export const WARM_CPU_SHARES = 128;

export interface ContainerInfo {
  id: string;
  name: string;
  image: string;
  /** The engine's id of the image the container runs (`sha256:...`), when the engine says. */
  imageId?: string;
  labels: Record<string, string>;
  running: boolean;
  paused: boolean;
  /** Docker's own state word: created, running, paused, exited, dead, ... */
  status: string;
  exitCode: number | null;
  oomKilled: boolean;
  createdAt: Date;
  startedAt: Date | null;
}

/** A command to run in a running container, as the container's user (uid 1000), without a TTY. */
export interface ExecSpec {
  /** The program and its arguments; the program is looked up on the container's PATH. */
  argv: readonly string[];
  /** An absolute directory in the container. */
  cwd: string;
  /** Added to (and over) the container's own environment. */
  env: Readonly<Record<string, string>>;
  /** Written to the process's standard input, which is then closed; none: closed at once. */
  stdin?: Buffer;
}

/** Bytes one of a command's output streams wrote. */
export interface ExecChunk {
  stream: 'stdout' | 'stderr';
  data: Buffer;
}

/** How a command ended: its exit status, or the signal that killed it (status 128+n). */
export interface ExecExitStatus {
  code: number | null;
  signal: string | null;
}

/**
 * A command started by `ContainerRuntime.exec`. It runs in a session of its own: every process
 * it starts (a background child included) is killed with it, and is killed when it exits, so
 * nothing it started outlives it.
 */
export interface ExecProcess {
  /**
   * Its stdout and stderr chunks in the order they were written, ending once it and every
   * process of its session are gone. Reading is what pulls output: a slow reader slows the
   * command, nothing is buffered without bound. Read it once.
   */
  readonly output: AsyncIterable<ExecChunk>;
  /** Its exit status; call after `output` has ended. */
  wait(): Promise<ExecExitStatus>;
  /** Kills it and every process of its session (SIGKILL); `output` then ends. */
  kill(): Promise<void>;
}

/** What a terminal's shell is started with. */
export interface TerminalOptions {
  /** The shell's argv; it runs as uid 1000 in /workspace. */
  command: string[];
  /** The PTY's first size. */
  cols: number;
  rows: number;
  /** Added to the container's environment (TERM, ...). */
  env: Record<string, string>;
}

/**
 * An interactive shell on a PTY inside a container. `output` carries what the PTY writes; it
 * ends when the shell exits or the session is closed.
 */
export interface TerminalSession {
  readonly output: NodeJS.ReadableStream;
  /** Keystrokes (bytes) to the PTY. */
  write(data: Buffer): void;
  /** Changes the PTY's size (the shell sees SIGWINCH). */
  resize(cols: number, rows: number): Promise<void>;
  /** Hangs the shell up (SIGHUP to its process group, then SIGKILL) and ends `output`. */
  close(): Promise<void>;
  /** Settles when the shell has ended, with its exit code when the engine knows it. */
  readonly exited: Promise<{ exitCode: number | null }>;
}

/**
 * Creates and controls workspace containers. The Docker implementation uses dockerode; a
 * Kubernetes one would map the same calls onto pods. Nothing else in the host talks to the
 * container engine.
 */
export interface ContainerRuntime {
  /** Creates (not starts) a container from `spec`; answers its engine id. */
  create(spec: ContainerSpec): Promise<string>;
  start(id: string): Promise<void>;
  /** Stops with a grace period; stopping a stopped container is not an error. */
  stop(id: string, graceSeconds?: number): Promise<void>;
  pause(id: string): Promise<void>;
  unpause(id: string): Promise<void>;
  /** Sets the running container's CPU weight (`ContainerSpec.cpuShares`). */
  setCpuShares(id: string, shares: number): Promise<void>;
  /** Removes (forcing a running container); removing a missing one is not an error. */
  remove(id: string): Promise<void>;
  /** The container's state, or null when the engine does not know it. */
  inspect(id: string): Promise<ContainerInfo | null>;
  /** Containers carrying every label in `labels` (value '' matches any value). */
  list(labels: Record<string, string>): Promise<ContainerInfo[]>;
  /** Is the image present locally? */
  hasImage(image: string): Promise<boolean>;
  /**
   * The engine's id of the image a name points at now (`sha256:...`), or null when it is not
   * present. A container whose `imageId` differs runs an older build of the same name.
   */
  imageId(image: string): Promise<string | null>;
  /** Answers whether the engine is reachable, throwing with a reason when it is not. */
  ping(): Promise<void>;
  /**
   * Starts a command in a running container with the container's own isolation (its user,
   * namespaces, limits and mounts), its output on two pipes. A terminal would be a sibling of
   * this (a TTY, one stream, resizes), not a mode of it.
   */
  exec(id: string, spec: ExecSpec): Promise<ExecProcess>;
  /**
   * Starts an interactive shell on a PTY in a running container, as uid 1000 in /workspace,
   * with the container's own isolation (a process of the container, nothing added). Distinct
   * from a non-TTY command: it is resizable and lives until hung up or exited.
   */
  terminal(id: string, options: TerminalOptions): Promise<TerminalSession>;
}
