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
} from './runtime.js';

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
}
