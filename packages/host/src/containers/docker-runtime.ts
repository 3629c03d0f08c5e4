import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import Docker from 'dockerode';
import type { Logger } from 'pino';
import { CONTAINER_PATHS } from '@workcell/protocol';
import { startDockerExec } from './docker-exec.js';
import type {
  ContainerInfo,
  ContainerRuntime,
  ContainerSpec,
  ExecProcess,
  ExecSpec,
  TerminalOptions,
  TerminalSession,
} from './runtime.js';

/** How long a hung-up shell has to exit before its process group is killed. */
const HANGUP_GRACE_MS = 2000;

/** HTTP status of a dockerode error, when it has one. */
function statusOf(err: unknown): number | undefined {
  return typeof err === 'object' && err !== null && 'statusCode' in err
    ? Number((err as { statusCode: unknown }).statusCode)
    : undefined;
}

/** The Workcell CA's public half, read-only: its directory, and its bundle as the system's. */
function trustBinds(dir: string | undefined): string[] {
  if (!dir) return [];
  return [
    `${dir}:${CONTAINER_PATHS.trust}:ro`,
    `${dir}/bundle.crt:${CONTAINER_PATHS.systemBundle}:ro`,
  ];
}

/**
 * The Docker Engine implementation of `ContainerRuntime` (dockerode). Every container it
 * creates is hardened the same way: no network, read-only root, all capabilities dropped,
 * no-new-privileges, uid 1000, resource limits, tmpfs for /tmp and the agent's home, an init
 * process, a `nofile` limit, and bind mounts for exactly the agent's socket directory, the
 * egress socket's (read-only), /workspace and the session state.
 */
export class DockerRuntime implements ContainerRuntime {
  private readonly docker: Docker;

  constructor(
    private readonly logger: Logger,
    options: Docker.DockerOptions = {
      socketPath: process.env.DOCKER_HOST ? undefined : '/var/run/docker.sock',
    },
  ) {
    this.docker = new Docker(options);
  }

  /** The HostConfig and Config of a workspace container; exported for inspection in tests. */
  static createOptions(spec: ContainerSpec): Docker.ContainerCreateOptions {
    return {
      name: `workcell-${spec.slotId}`,
      Image: spec.image,
      User: '1000:1000',
      Labels: spec.labels,
      Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
      WorkingDir: CONTAINER_PATHS.workspace,
      NetworkDisabled: true,
      HostConfig: {
        NetworkMode: 'none',
        ReadonlyRootfs: true,
        CapDrop: ['ALL'],
        SecurityOpt: ['no-new-privileges:true'],
        Privileged: false,
        Init: true,
        IpcMode: 'private',
        Memory: spec.limits.memoryMb * 1024 * 1024,
        MemorySwap: spec.limits.memoryMb * 1024 * 1024,
        NanoCpus: Math.round(spec.limits.cpus * 1e9),
        ...(spec.cpuShares !== undefined ? { CpuShares: spec.cpuShares } : {}),
        PidsLimit: spec.limits.pids,
        Runtime: spec.runtime,
        Tmpfs: {
          '/tmp': 'rw,nosuid,nodev,size=512m',
          [CONTAINER_PATHS.home]: 'rw,nosuid,nodev,size=256m,uid=1000,gid=1000,mode=0700',
        },
        Ulimits: [{ Name: 'nofile', Soft: spec.limits.nofile, Hard: spec.limits.nofile }],
        Binds: [
          `${spec.mounts.socketDir}:${CONTAINER_PATHS.socketDir}:rw`,
          `${spec.mounts.egressDir}:${CONTAINER_PATHS.egressDir}:ro`,
          `${spec.mounts.workspace}:${CONTAINER_PATHS.workspace}:rw`,
          `${spec.mounts.claudeConfig}:${CONTAINER_PATHS.claudeConfig}:rw`,
          ...trustBinds(spec.mounts.trust),
        ],
        RestartPolicy: { Name: 'no' },
        LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '2' } },
      },
    };
  }

  async create(spec: ContainerSpec): Promise<string> {
    const container = await this.docker.createContainer(DockerRuntime.createOptions(spec));
    this.logger.debug({ containerId: container.id, slotId: spec.slotId }, 'container created');
    return container.id;
  }

  async start(id: string): Promise<void> {
    try {
      await this.docker.getContainer(id).start();
    } catch (err) {
      if (statusOf(err) !== 304) throw err;
    }
  }

  async stop(id: string, graceSeconds = 5): Promise<void> {
    try {
      await this.docker.getContainer(id).stop({ t: graceSeconds });
    } catch (err) {
      const status = statusOf(err);
      if (status !== 304 && status !== 404) throw err;
    }
  }

  async pause(id: string): Promise<void> {
    await this.docker.getContainer(id).pause();
  }

  async unpause(id: string): Promise<void> {
    await this.docker.getContainer(id).unpause();
  }

  async setCpuShares(id: string, shares: number): Promise<void> {
    await this.docker.getContainer(id).update({ CpuShares: shares });
  }

  async remove(id: string): Promise<void> {
    try {
      await this.docker.getContainer(id).remove({ force: true, v: true });
    } catch (err) {
      const status = statusOf(err);
      // 404: already gone; 409: removal already in progress.
      if (status !== 404 && status !== 409) throw err;
    }
  }

  async inspect(id: string): Promise<ContainerInfo | null> {
    try {
      const info = await this.docker.getContainer(id).inspect();
      return {
        id: info.Id,
        name: info.Name.replace(/^\//, ''),
        image: info.Config.Image,
        imageId: info.Image,
        labels: info.Config.Labels ?? {},
        running: info.State.Running,
        paused: info.State.Paused,
        status: info.State.Status,
        exitCode: info.State.Running ? null : info.State.ExitCode,
        oomKilled: info.State.OOMKilled,
        createdAt: new Date(info.Created),
        startedAt:
          info.State.StartedAt && !info.State.StartedAt.startsWith('0001')
            ? new Date(info.State.StartedAt)
            : null,
      };
    } catch (err) {
      if (statusOf(err) === 404) return null;
      throw err;
    }
  }

  async list(labels: Record<string, string>): Promise<ContainerInfo[]> {
    const filters = Object.entries(labels).map(([k, v]) => (v === '' ? k : `${k}=${v}`));
    const rows = await this.docker.listContainers({ all: true, filters: { label: filters } });
    return rows.map((row) => ({
      id: row.Id,
      name: (row.Names[0] ?? '').replace(/^\//, ''),
      image: row.Image,
      imageId: row.ImageID,
      labels: row.Labels ?? {},
      running: row.State === 'running',
      paused: row.State === 'paused',
      status: row.State,
      exitCode: null,
      oomKilled: false,
      createdAt: new Date(row.Created * 1000),
      startedAt: null,
    }));
  }

  async hasImage(image: string): Promise<boolean> {
    try {
      await this.docker.getImage(image).inspect();
      return true;
    } catch (err) {
      if (statusOf(err) === 404) return false;
      throw err;
    }
  }

  async imageId(image: string): Promise<string | null> {
    try {
      const info = await this.docker.getImage(image).inspect();
      return info.Id;
    } catch (err) {
      if (statusOf(err) === 404) return null;
      throw err;
    }
  }

  async ping(): Promise<void> {
    await this.docker.ping();
  }

  async exec(id: string, spec: ExecSpec): Promise<ExecProcess> {
    return startDockerExec(this.docker.getContainer(id), spec);
  }

  async terminal(id: string, options: TerminalOptions): Promise<TerminalSession> {
    const container = this.docker.getContainer(id);
    // The shell's pid goes to a file in the container's /tmp, so `close` can signal its process
    // group from inside: the engine does not end an exec when its attached stream closes.
    const pidFile = `/tmp/.workcell-terminal-${randomBytes(8).toString('hex')}.pid`;
    const exec = await container.exec({
      Cmd: ['/bin/sh', '-c', 'echo $$ > "$0"; exec "$@"', pidFile, ...options.command],
      User: '1000:1000',
      WorkingDir: CONTAINER_PATHS.workspace,
      Env: Object.entries(options.env).map(([k, v]) => `${k}=${v}`),
      Tty: true,
      AttachStdin: true,
      AttachStdout: true,
      AttachStderr: true,
    });
    const stream = (await exec.start({ hijack: true, stdin: true, Tty: true })) as Duplex;
    const resize = (cols: number, rows: number): Promise<void> =>
      exec.resize({ w: cols, h: rows }).then(() => undefined);
    await resize(options.cols, options.rows).catch((err: unknown) => {
      // The shell may not have its PTY yet; the client's first resize message sets it again.
      this.logger.debug({ containerId: id, err }, 'first terminal resize failed');
    });
    const exited = new Promise<{ exitCode: number | null }>((resolve) => {
      let done = false;
      const finish = (): void => {
        if (done) return;
        done = true;
        exec
          .inspect()
          .then((info) => resolve({ exitCode: info.Running ? null : info.ExitCode }))
          .catch(() => resolve({ exitCode: null }));
      };
      stream.on('end', finish);
      stream.on('close', finish);
      stream.on('error', finish);
    });
    let shellEnded = false;
    void exited.then(() => {
      shellEnded = true;
    });
    /** Signals the shell's process group (`null`: only forgets its pid file). */
    const signal = async (sig: 'HUP' | 'KILL' | null): Promise<void> => {
      // The shell leads its own session and process group (pgid = pid): signal the group, then
      // the shell in case it moved. dash's `kill` takes no `--`.
      const kill = await container.exec({
        Cmd: [
          '/bin/sh',
          '-c',
          sig
            ? `p=$(cat "$0" 2>/dev/null) && { kill -${sig} -$p; kill -${sig} $p; } 2>/dev/null; true`
            : 'rm -f "$0"',
          pidFile,
        ],
        User: '1000:1000',
        AttachStdout: true,
        AttachStderr: true,
      });
      const out = (await kill.start({})) as NodeJS.ReadableStream;
      out.resume();
      await new Promise<void>((resolve) => {
        out.on('end', resolve);
        out.on('close', resolve);
        out.on('error', () => resolve());
      });
    };
    let closing: Promise<void> | null = null;
    return {
      output: stream,
      write: (data) => {
        if (!stream.destroyed) stream.write(data);
      },
      resize,
      exited,
      close: () => {
        closing ??= (async () => {
          try {
            // Once the shell has ended its pid may be reused: it is never signalled then.
            if (!shellEnded) await signal('HUP');
            const ended = await Promise.race([
              exited.then(() => true),
              new Promise<boolean>((r) => setTimeout(() => r(false), HANGUP_GRACE_MS).unref()),
            ]);
            if (!ended) {
              await signal('KILL');
              this.logger.debug({ containerId: id }, 'terminal shell killed');
            }
            await signal(null);
          } catch (err) {
            // The container may be gone already; the stream ends with it.
            this.logger.debug({ containerId: id, err }, 'terminal hang-up failed');
          } finally {
            stream.destroy();
          }
        })();
        return closing;
      },
    };
  }
}
