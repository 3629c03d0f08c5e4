import { randomBytes } from 'node:crypto';
import {
  chownSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
  renameSync,
  existsSync,
} from 'node:fs';
import { rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { PlainVolumes, volumeDir, type SlotVolumes } from './slot-volume.js';

/** The container user's uid/gid inside every workspace container. */
export const AGENT_UID = 1000;
export const AGENT_GID = 1000;

/** Host-side directories of one container: its mounts, its sockets and its assignment record. */
export interface Slot {
  id: string;
  root: string;
  /** agent.sock: written by the container's agent (mounted read-write). */
  socketDir: string;
  /** egress.sock: written by the host only (root-owned, mounted read-only). */
  egressDir: string;
  workspaceDir: string;
  claudeDir: string;
  agentSocket: string;
  egressSocket: string;
}

/**
 * The workspace a container serves, written beside its mounts (labels cannot change later), so
 * a host rebuilds the container's state from Docker and the data directory alone.
 */
export interface AssignmentRecord {
  containerId: string;
  workspaceId: string;
  tenant: string;
  assignedAt: number;
  /** The host that holds the container's egress listener (the creator until another host acquires it). */
  hostId?: string;
  /** The run in progress; a record still naming one after a host restart marks a run that died with it. */
  runId?: string | null;
  /** When the last run ended: the idle clock of a rebuilt record. */
  lastRunEndedAt?: number | null;
}

/**
 * Owns `<dataDir>/containers/<slotId>/`: `sock/` (agent.sock; the container's user writes it),
 * `egress/` (egress.sock; only the host writes it, so the proxy never follows a path the
 * container controls), `vol/` holding `workspace/` and `claude/` (CLAUDE_CONFIG_DIR) on a volume
 * of limited size, and `assignment.json`. Together with Docker labels this lets a restarted host
 * rebuild its state.
 */
export class SlotStore {
  /** The data directory, resolved: the value of every container's `workcell.data-dir` label. */
  readonly dataDir: string;
  readonly root: string;

  constructor(
    dataDir: string,
    private readonly volumes: SlotVolumes = new PlainVolumes(),
  ) {
    this.dataDir = resolve(dataDir);
    this.root = join(this.dataDir, 'containers');
    mkdirSync(this.root, { recursive: true });
  }

  static newId(): string {
    return `c${Date.now().toString(36)}${randomBytes(5).toString('hex')}`;
  }

  slot(id: string): Slot {
    if (!/^[a-z0-9]{6,40}$/.test(id)) throw new Error(`invalid slot id ${id}`);
    const root = join(this.root, id);
    const socketDir = join(root, 'sock');
    // A slot made by an older host keeps its trees and socket where that host put them, so its
    // final sync out reads the files its container wrote.
    const legacy = existsSync(join(root, 'workspace'));
    const egressDir = legacy ? socketDir : join(root, 'egress');
    const trees = legacy ? root : volumeDir(root);
    return {
      id,
      root,
      socketDir,
      egressDir,
      workspaceDir: join(trees, 'workspace'),
      claudeDir: join(trees, 'claude'),
      agentSocket: join(socketDir, 'agent.sock'),
      egressSocket: join(egressDir, 'egress.sock'),
    };
  }

  /**
   * Creates the slot's directories: `sock/` and the trees on the volume owned by the container
   * user (where the host can chown), `egress/` owned by the host and not writable by anyone else.
   */
  async create(id: string = SlotStore.newId()): Promise<Slot> {
    const slot = this.slot(id);
    mkdirSync(slot.root, { recursive: true, mode: 0o755 });
    mkdirSync(slot.egressDir, { mode: 0o755 });
    mkdirSync(slot.socketDir, { mode: 0o755 });
    chownIfRoot(slot.socketDir);
    await this.volumes.prepare(slot.root);
    for (const dir of [slot.workspaceDir, slot.claudeDir]) {
      mkdirSync(dir, { recursive: true, mode: 0o755 });
      chownIfRoot(dir);
    }
    return slot;
  }

  writeAssignment(slot: Slot, record: AssignmentRecord): void {
    const tmp = join(slot.root, `.assignment.${process.pid}.tmp`);
    writeFileSync(tmp, JSON.stringify(record));
    renameSync(tmp, join(slot.root, 'assignment.json'));
  }

  readAssignment(slot: Slot): AssignmentRecord | null {
    const file = join(slot.root, 'assignment.json');
    if (!existsSync(file)) return null;
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as AssignmentRecord;
    } catch {
      return null;
    }
  }

  /** Merges `patch` into the slot's assignment record, when it has one. */
  updateAssignment(
    slot: Slot,
    patch: Partial<Omit<AssignmentRecord, 'containerId'>>,
  ): AssignmentRecord | null {
    const current = this.readAssignment(slot);
    if (!current) return null;
    const next = { ...current, ...patch };
    this.writeAssignment(slot, next);
    return next;
  }

  exists(id: string): boolean {
    return existsSync(this.slot(id).root);
  }

  /** Milliseconds since the slot directory last changed, at `now`; null when it is gone. */
  ageMs(id: string, now: number): number | null {
    try {
      return now - statSync(this.slot(id).root).mtimeMs;
    } catch {
      return null;
    }
  }

  /** Ids of every slot directory on disk. */
  list(): string[] {
    return readdirSync(this.root, { withFileTypes: true })
      .filter((d) => d.isDirectory() && /^[a-z0-9]{6,40}$/.test(d.name))
      .map((d) => d.name);
  }

  /** Releases the slot's volume and deletes the slot directory with everything in it. */
  async remove(id: string): Promise<void> {
    const root = this.slot(id).root;
    await this.volumes.release(root);
    await rm(root, { recursive: true, force: true });
  }
}

/** Makes a path owned by the container user when the host runs as root. */
export function chownIfRoot(path: string): void {
  if (process.getuid?.() === 0) chownSync(path, AGENT_UID, AGENT_GID);
}
