import { execFile } from 'node:child_process';
import { mkdir, open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Where a slot's writable trees (`workspace/`, `claude/`) live. A workspace writes into them
 * from inside its container, so they are the one host resource a container can fill: a volume
 * with a hard size keeps one workspace from filling the host's disk.
 */
export interface SlotVolumes {
  /** Makes `<root>/vol` ready (mounted, when the volume is a filesystem of its own). */
  prepare(root: string): Promise<void>;
  /** Undoes `prepare` (unmounts); the caller deletes the directory after. Idempotent. */
  release(root: string): Promise<void>;
  /** A line for logs and `/health`: what limits the slot's disk use. */
  readonly description: string;
}

/** The volume directory of a slot root. */
export function volumeDir(root: string): string {
  return join(root, 'vol');
}

/** No size limit: `vol/` is a plain directory on the host's filesystem. */
export class PlainVolumes implements SlotVolumes {
  readonly description = 'no per-workspace disk limit';

  async prepare(root: string): Promise<void> {
    await mkdir(volumeDir(root), { recursive: true, mode: 0o755 });
  }

  async release(): Promise<void> {}
}

/** Every mount point now (field 5 of /proc/self/mountinfo, its octal escapes undone). */
export async function mountPoints(): Promise<string[]> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  return info
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .filter((point) => point !== '')
    .map((point) =>
      point.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8))),
    );
}

/** Whether `path` is a mount point now. */
async function isMountPoint(path: string): Promise<boolean> {
  return (await mountPoints()).includes(path);
}

/**
 * A sparse ext4 image per slot (`<root>/disk.img`) loop-mounted at `<root>/vol` with a hard
 * size: a write past it fails with ENOSPC inside the container, and the host's own filesystem
 * and the other workspaces are untouched. Needs root (mount) and `mkfs.ext4` (e2fsprogs).
 * `discard` hands freed blocks back to the host, so the image only holds what is in use.
 */
export class LoopbackVolumes implements SlotVolumes {
  readonly description: string;

  constructor(private readonly sizeMb: number) {
    this.description = `a ${sizeMb} MiB ext4 volume per workspace`;
  }

  /** Fails fast, with what to do, when this host cannot make loop volumes. */
  static async check(): Promise<void> {
    if (process.getuid?.() !== 0)
      throw new Error(
        'a per-workspace disk limit needs root (loop mounts); run as root or set WORKCELL_WORKSPACE_DISK_MB=0',
      );
    try {
      await run('mkfs.ext4', ['-V']);
    } catch {
      throw new Error(
        'mkfs.ext4 is missing (apt-get install e2fsprogs), or set WORKCELL_WORKSPACE_DISK_MB=0',
      );
    }
  }

  async prepare(root: string): Promise<void> {
    const image = join(root, 'disk.img');
    const mountPoint = volumeDir(root);
    await mkdir(mountPoint, { recursive: true, mode: 0o755 });
    if (await isMountPoint(mountPoint)) return;
    const file = await open(image, 'wx', 0o600);
    try {
      await file.truncate(this.sizeMb * 1024 * 1024);
    } finally {
      await file.close();
    }
    await run('mkfs.ext4', [
      '-q',
      '-F',
      '-m',
      '0',
      '-E',
      'lazy_itable_init=1,lazy_journal_init=1,nodiscard',
      image,
    ]);
    await run('mount', ['-t', 'ext4', '-o', 'loop,nosuid,nodev,discard', image, mountPoint]);
  }

  async release(root: string): Promise<void> {
    const mountPoint = volumeDir(root);
    if (!(await isMountPoint(mountPoint).catch(() => false))) return;
    // Lazy: a container still being torn down may hold the mount for a moment.
    await run('umount', ['-l', mountPoint]);
  }
}
