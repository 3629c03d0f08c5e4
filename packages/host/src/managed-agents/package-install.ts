import { createHash } from 'node:crypto';
import { WorkcellError } from '@workcell/protocol';
import type { Logger } from 'pino';
import type { ArchiveService } from '../archive/archive-service.js';
import type { Principal } from '../auth/tokens.js';
import type { ExecService } from '../exec/exec-service.js';
import type { ObjectStore } from '../storage/object-store.js';
import * as layout from '../storage/layout.js';
import { SERVED_MANAGERS, type PackageLists, type ServedManager } from './package-specs.js';

/** Where the operator's registries are (`WORKCELL_NPM_REGISTRY`, `WORKCELL_PIP_INDEX_URL`). */
export interface PackageRegistries {
  npm: string;
  pip: string;
}

/** Each manager's installed tree, as a folder of the workspace. */
export const PACKAGE_FOLDERS: Record<ServedManager, string> = {
  npm: 'node_modules',
  pip: '.python-packages',
};

/** The `PYTHONPATH` a session's agent and tools get when its environment installs pip packages. */
export const PYTHON_PACKAGES_PATH = `/workspace/${PACKAGE_FOLDERS.pip}`;

/** Index hosts whose files are served from another host. */
const FILE_HOSTS: Readonly<Record<string, readonly string[]>> = {
  'pypi.org': ['files.pythonhosted.org'],
};

/** A registry URL's host as an egress pattern: `host`, or `host:port` when the URL names a port. */
function hostPattern(url: string): string {
  const u = new URL(url);
  return u.port ? `${u.hostname}:${u.port}` : u.hostname;
}

/** The hosts of the registries of `managers` (all by default), as egress patterns. */
export function registryHosts(
  registries: PackageRegistries,
  managers: readonly ServedManager[] = SERVED_MANAGERS,
): string[] {
  const hosts: string[] = [];
  for (const manager of managers) {
    const url = registries[manager];
    hosts.push(hostPattern(url), ...(FILE_HOSTS[new URL(url).hostname] ?? []));
  }
  return [...new Set(hosts)];
}

/**
 * The command installing `specs` with `manager` into its folder of the workspace. The specs
 * are checked (`package-specs.ts`) and come after `--`, each one argument: no shell reads them.
 * `NO_PROXY` is removed so every request, whatever the registry's name, goes through the proxy.
 */
export function installCommand(
  manager: ServedManager,
  registry: string,
  specs: readonly string[],
): string[] {
  const viaProxy = ['env', '-u', 'NO_PROXY', '-u', 'no_proxy'];
  if (manager === 'npm')
    return [
      ...viaProxy,
      'npm',
      'install',
      '--prefix',
      '/workspace',
      '--registry',
      registry,
      '--cache',
      '/tmp/workcell-npm-cache',
      '--no-save',
      '--no-package-lock',
      '--no-bin-links',
      '--no-audit',
      '--no-fund',
      '--no-update-notifier',
      '--loglevel=error',
      '--',
      ...specs,
    ];
  return [
    ...viaProxy,
    'python3',
    '-m',
    'pip',
    'install',
    '--target',
    PYTHON_PACKAGES_PATH,
    '--index-url',
    registry,
    '--no-cache-dir',
    '--disable-pip-version-check',
    '--no-input',
    '--quiet',
    '--',
    ...specs,
  ];
}

/** Keeps the last `max` bytes of a command's output. */
class OutputTail {
  private chunks: Buffer[] = [];
  private bytes = 0;

  constructor(private readonly max: number) {}

  push(data: Buffer): void {
    this.chunks.push(data);
    this.bytes += data.length;
    while (this.bytes - (this.chunks[0]?.length ?? 0) >= this.max) {
      this.bytes -= this.chunks.shift()?.length ?? 0;
    }
  }

  text(): string {
    return Buffer.concat(this.chunks).toString('utf8').slice(-this.max).trim();
  }
}

export interface PackageInstallerDeps {
  objects: ObjectStore;
  archives: Pick<ArchiveService, 'download' | 'upload'>;
  exec: Pick<ExecService, 'start'>;
  registries: PackageRegistries;
  /** `WORKCELL_PACKAGE_INSTALL_TIMEOUT_MS`: each manager's install is killed past it. */
  timeoutMs: number;
  /** The workspace image: a tree installed in one image is never laid into another's. */
  image: string;
  logger: Logger;
}

/** Where a manager's tree came from. */
export type InstallSource = 'cache' | 'registry';

/**
 * Installs an environment's packages into a session's workspace, once per environment and
 * package list: the first session's installed trees are stored under the tenant's prefix
 * (`layout.packageCacheKey`), keyed by environment and a hash of the list, the registry and the
 * image, and the next session's workspace gets them unpacked without any registry request. The
 * cache lives under the tenant, so no other tenant's session ever reads it. The caller sets the
 * workspace's egress to `installHosts` while this runs.
 */
export class PackageInstaller {
  constructor(private readonly deps: PackageInstallerDeps) {}

  /** The hosts the install step of `lists` needs open (and only these). */
  hosts(lists: PackageLists): string[] {
    return registryHosts(
      this.deps.registries,
      SERVED_MANAGERS.filter((m) => lists[m].length > 0),
    );
  }

  private cacheKey(
    tenant: string,
    environmentId: string,
    manager: ServedManager,
    specs: readonly string[],
  ): string {
    const hash = createHash('sha256')
      .update(
        JSON.stringify({
          manager,
          specs,
          registry: this.deps.registries[manager],
          image: this.deps.image,
        }),
      )
      .digest('hex');
    return layout.packageCacheKey(tenant, environmentId, manager, hash);
  }

  /**
   * Puts every listed manager's packages into the workspace, from the cache or the registry.
   * Throws `package_install_failed` naming the manager and the installer's last output.
   */
  async install(
    principal: Principal,
    workspaceId: string,
    environmentId: string,
    lists: PackageLists,
  ): Promise<Partial<Record<ServedManager, InstallSource>>> {
    const sources: Partial<Record<ServedManager, InstallSource>> = {};
    for (const manager of SERVED_MANAGERS) {
      const specs = lists[manager];
      if (specs.length === 0) continue;
      const key = this.cacheKey(principal.tenant, environmentId, manager, specs);
      if (await this.fromCache(principal.tenant, workspaceId, manager, key)) {
        sources[manager] = 'cache';
        continue;
      }
      await this.fromRegistry(principal, workspaceId, manager, specs);
      await this.store(principal.tenant, workspaceId, manager, key);
      sources[manager] = 'registry';
    }
    return sources;
  }

  /** Unpacks the cached tree into the workspace; false when there is none (or it is unusable). */
  private async fromCache(
    tenant: string,
    workspaceId: string,
    manager: ServedManager,
    key: string,
  ): Promise<boolean> {
    const cached = await this.deps.objects.get(key);
    if (!cached) return false;
    try {
      await this.deps.archives.upload(
        tenant,
        workspaceId,
        PACKAGE_FOLDERS[manager],
        cached.body,
        'application/gzip',
      );
      return true;
    } catch (err) {
      cached.body.destroy();
      this.deps.logger.warn(
        { err, workspaceId, manager },
        'cached packages cannot be unpacked; installing from the registry',
      );
      return false;
    }
  }

  private async fromRegistry(
    principal: Principal,
    workspaceId: string,
    manager: ServedManager,
    specs: readonly string[],
  ): Promise<void> {
    const tail = new OutputTail(2000);
    let started;
    try {
      started = await this.deps.exec.start(principal, workspaceId, {
        command: installCommand(manager, this.deps.registries[manager], specs),
        timeoutMs: this.deps.timeoutMs,
      });
    } catch (err) {
      throw new WorkcellError(
        'package_install_failed',
        `${manager} install could not start: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    const end = await started.run((chunk) => tail.push(chunk.data));
    const output = tail.text();
    this.deps.logger.info(
      { workspaceId, manager, exitCode: end.exit.code, durationMs: end.durationMs },
      'packages installed from the registry',
    );
    if (end.timedOut)
      throw new WorkcellError(
        'package_install_failed',
        `${manager} install took longer than ${this.deps.timeoutMs} ms (WORKCELL_PACKAGE_INSTALL_TIMEOUT_MS)`,
      );
    if (end.exit.code !== 0 || end.error)
      throw new WorkcellError(
        'package_install_failed',
        `${manager} install failed (${end.error ? end.error.message : `exit ${end.exit.code ?? end.exit.signal}`})${output ? `: ${output}` : ''}`,
      );
  }

  /** Stores the workspace's installed tree of `manager` as the cache entry `key`. */
  private async store(
    tenant: string,
    workspaceId: string,
    manager: ServedManager,
    key: string,
  ): Promise<void> {
    try {
      const tree = await this.deps.archives.download(
        tenant,
        workspaceId,
        PACKAGE_FOLDERS[manager],
        'tar.gz',
      );
      await this.deps.objects.put(key, tree, { contentType: 'application/gzip' });
    } catch (err) {
      // The session has its packages; only the next session's shortcut is lost.
      this.deps.logger.warn({ err, workspaceId, manager }, 'installed packages were not cached');
    }
  }

  /** Drops every cached tree of an environment (it was deleted). */
  async forget(tenant: string, environmentId: string): Promise<void> {
    await this.deps.objects.deletePrefix(layout.packageCachePrefix(tenant, environmentId));
  }
}
