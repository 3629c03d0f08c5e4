import { narrowPolicy, type EgressPolicy } from '@workcell/proxy';
import type { z } from 'zod';
import { AnthropicApiError, conflict, notFound } from './errors.js';
import { newResourceId } from './ids.js';
import { checkPackageLists, type PackageLists } from './package-specs.js';
import type { RecordStore } from './record-store.js';
import type { CloudConfigParams, environmentCreateBody, environmentUpdateBody } from './schemas.js';

type Networking =
  | { type: 'unrestricted' }
  | {
      type: 'limited';
      allowed_hosts: string[];
      allow_package_managers: boolean;
      allow_mcp_servers: boolean;
    };

/** An environment in the SDK's `BetaEnvironment` shape. */
export interface Environment {
  id: string;
  type: 'environment';
  name: string;
  description: string | null;
  metadata: Record<string, string>;
  config: {
    type: 'cloud';
    networking: Networking;
    packages: {
      type: 'packages';
      apt: string[];
      cargo: string[];
      gem: string[];
      go: string[];
      npm: string[];
      pip: string[];
    };
  };
  created_at: string;
  updated_at: string;
  archived_at: string | null;
}

export interface EnvironmentPolicy {
  /** The operator's egress policy, which an environment's hosts narrow. */
  operator: EgressPolicy;
  /** Whether `networking: unrestricted` is served (as the operator's whole list). */
  allowUnrestricted: boolean;
  /** The operator's package registries' hosts, which `allow_package_managers` opens. */
  registryHosts: readonly string[];
  /** The hosts installing `lists` reaches (each must be in the operator's list). */
  installHosts: (lists: PackageLists) => string[];
  /** Drops the environment's cached package installs (its lists changed, or it was deleted). */
  forgetPackages: (tenant: string, environmentId: string) => Promise<void>;
}

/**
 * The workspace egress hosts of a session in the environment: the allowed hosts (and the
 * package registries when asked), or null (the operator's list) for unrestricted networking.
 */
export function egressHostsOf(env: Environment, registryHosts: readonly string[]): string[] | null {
  const net = env.config.networking;
  if (net.type === 'unrestricted') return null;
  return [...new Set([...net.allowed_hosts, ...(net.allow_package_managers ? registryHosts : [])])];
}

/** The package lists a session in the environment installs before its first turn. */
export function packageListsOf(env: Environment): PackageLists {
  return { npm: env.config.packages.npm, pip: env.config.packages.pip };
}

function metadataPatch(
  current: Record<string, string>,
  patch: Record<string, string | null> | undefined,
): Record<string, string> {
  if (!patch) return current;
  const next = { ...current };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete next[k];
    else next[k] = v;
  }
  return next;
}

/** Environments: the networking and packages every session in them gets. */
export class EnvironmentService {
  constructor(
    private readonly records: RecordStore,
    private readonly policy: EnvironmentPolicy,
    private readonly clock: () => number = Date.now,
  ) {}

  private config(params: CloudConfigParams | null | undefined): Environment['config'] {
    const net = params?.networking ?? { type: 'unrestricted' as const };
    const networking: Networking =
      net.type === 'unrestricted'
        ? { type: 'unrestricted' }
        : {
            type: 'limited',
            allowed_hosts: net.allowed_hosts ?? [],
            allow_package_managers: net.allow_package_managers ?? false,
            allow_mcp_servers: net.allow_mcp_servers ?? false,
          };
    const lists = checkPackageLists(params?.packages ?? {});
    const config: Environment['config'] = {
      type: 'cloud',
      networking,
      packages: { type: 'packages', apt: [], cargo: [], gem: [], go: [], ...lists },
    };
    this.check(config);
    return config;
  }

  private check(config: Environment['config']): void {
    const install = this.policy.installHosts(packageListsOf({ config } as Environment));
    try {
      if (install.length > 0) narrowPolicy(this.policy.operator, install);
    } catch (err) {
      throw new AnthropicApiError(
        'invalid_request_error',
        `config.packages: the package registries (WORKCELL_NPM_REGISTRY, WORKCELL_PIP_INDEX_URL) are not open to this installation's containers: ${(err as Error).message}`,
      );
    }
    if (config.networking.type === 'unrestricted') {
      if (!this.policy.allowUnrestricted)
        throw new AnthropicApiError(
          'invalid_request_error',
          'config.networking: "unrestricted" is not served by this installation (the operator may allow it with WORKCELL_MANAGED_AGENTS_UNRESTRICTED); use "limited" with allowed_hosts',
        );
      return;
    }
    const hosts = egressHostsOf({ config } as Environment, this.policy.registryHosts) ?? [];
    try {
      narrowPolicy(this.policy.operator, hosts);
    } catch (err) {
      throw new AnthropicApiError(
        'invalid_request_error',
        `config.networking.allowed_hosts: ${(err as Error).message}`,
      );
    }
  }

  private async get(tenant: string, id: string): Promise<Environment> {
    const env = await this.records.get<Environment>(tenant, 'environments', id);
    if (!env) throw notFound('environment', id);
    return env;
  }

  async create(tenant: string, body: z.infer<typeof environmentCreateBody>): Promise<Environment> {
    const now = new Date(this.clock()).toISOString();
    const env: Environment = {
      id: newResourceId('environment', this.clock()),
      type: 'environment',
      name: body.name,
      description: body.description ?? null,
      metadata: body.metadata ?? {},
      config: this.config(body.config),
      created_at: now,
      updated_at: now,
      archived_at: null,
    };
    await this.records.put(tenant, 'environments', env.id, env);
    return env;
  }

  retrieve(tenant: string, id: string): Promise<Environment> {
    return this.get(tenant, id);
  }

  /** An environment a new session may use (not archived). */
  async usable(tenant: string, id: string): Promise<Environment> {
    const env = await this.get(tenant, id);
    if (env.archived_at)
      throw new AnthropicApiError('invalid_request_error', `environment ${id} is archived`);
    this.check(env.config);
    return env;
  }

  async update(
    tenant: string,
    id: string,
    body: z.infer<typeof environmentUpdateBody>,
  ): Promise<Environment> {
    const env = await this.get(tenant, id);
    if (env.archived_at) throw conflict(`environment ${id} is archived`);
    const next: Environment = {
      ...env,
      name: body.name ?? env.name,
      description: body.description === undefined ? env.description : body.description,
      metadata: metadataPatch(env.metadata, body.metadata),
      config: body.config ? this.config(body.config) : env.config,
      updated_at: new Date(this.clock()).toISOString(),
    };
    await this.records.put(tenant, 'environments', id, next);
    if (JSON.stringify(packageListsOf(env)) !== JSON.stringify(packageListsOf(next)))
      await this.policy.forgetPackages(tenant, id);
    return next;
  }

  async list(tenant: string, includeArchived: boolean): Promise<Environment[]> {
    const all = await this.records.list<Environment>(tenant, 'environments');
    return all.filter((e) => includeArchived || e.archived_at === null).reverse();
  }

  async archive(tenant: string, id: string): Promise<Environment> {
    const env = await this.get(tenant, id);
    if (env.archived_at) return env;
    const next = { ...env, archived_at: new Date(this.clock()).toISOString() };
    await this.records.put(tenant, 'environments', id, next);
    return next;
  }

  async delete(tenant: string, id: string): Promise<{ id: string; type: 'environment_deleted' }> {
    await this.get(tenant, id);
    await this.records.delete(tenant, 'environments', id);
    await this.policy.forgetPackages(tenant, id);
    return { id, type: 'environment_deleted' };
  }
}
