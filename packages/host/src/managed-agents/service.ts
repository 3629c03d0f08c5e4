import type { Logger } from 'pino';
import type { AgentSettingsService } from '../agent-settings/index.js';
import type { ArchiveService } from '../archive/archive-service.js';
import type { ExecService } from '../exec/exec-service.js';
import type { Catalog } from '../catalog/catalog.js';
import type { PolicyStore } from '../egress/policy-store.js';
import type { RunService } from '../execute/execute-service.js';
import type { RunEventLog } from '../execute/run-events.js';
import type { WorkspaceRemover } from '../workspace/workspace-removal.js';
import type { SecretCipher } from '../secrets/cipher.js';
import type { SecretStore } from '../secrets/secret-store.js';
import type { StateStore } from '../state/state-store.js';
import type { ObjectStore } from '../storage/object-store.js';
import { AgentService } from './agents.js';
import { EnvironmentService } from './environments.js';
import {
  PackageInstaller,
  registryHosts as registryHostsOf,
  type PackageRegistries,
} from './package-install.js';
import { RecordStore } from './record-store.js';
import { SessionFeed } from './session-feed.js';
import { SessionSetup } from './session-setup.js';
import { SessionService, type SessionDeps } from './sessions.js';
import { VaultService } from './vaults.js';

/** The Managed Agents services, built on Workcell's engine. */
export interface ManagedAgents {
  agents: AgentService;
  environments: EnvironmentService;
  vaults: VaultService;
  sessions: SessionService;
}

/** What the Managed Agents API needs of the host beyond the API's own services. */
export interface ManagedAgentsSettings {
  objects: ObjectStore;
  /** Seals vault credential values; null when the installation has no secrets key. */
  cipher: SecretCipher | null;
  /** `WORKCELL_MANAGED_AGENTS_UNRESTRICTED`: serve `networking: unrestricted` as the operator's list. */
  allowUnrestrictedNetworking: boolean;
  /** This host's id (`WORKCELL_HOST_ID`), in the holders of the sessions' leases. */
  hostId: string;
  /** Environment packages: the registries, the install's time limit, the workspace image. */
  packages: { registries: PackageRegistries; timeoutMs: number; image: string };
}

/** Builds the services from the engine's (one place wires them). */
export function createManagedAgents(
  settings: ManagedAgentsSettings,
  engine: {
    catalog: Catalog;
    execute: RunService;
    exec: Pick<ExecService, 'start'>;
    archives: Pick<ArchiveService, 'download' | 'upload'>;
    events: RunEventLog;
    state: StateStore;
    workspaces: WorkspaceRemover;
    approvals: SessionDeps['approvals'];
    agentSettings: AgentSettingsService;
    secrets: SecretStore;
    policies: PolicyStore;
    egressChanged: (tenant: string, workspaceId: string) => Promise<void>;
    logger: Logger;
  },
): ManagedAgents {
  const records = new RecordStore(settings.objects);
  const agents = new AgentService(records, (model) => engine.agentSettings.check({ model }));
  const { registries } = settings.packages;
  const installer = new PackageInstaller({
    objects: settings.objects,
    archives: engine.archives,
    exec: engine.exec,
    registries,
    timeoutMs: settings.packages.timeoutMs,
    image: settings.packages.image,
    logger: engine.logger,
  });
  const registryHosts = registryHostsOf(registries);
  const environments = new EnvironmentService(records, {
    operator: engine.policies.operator,
    allowUnrestricted: settings.allowUnrestrictedNetworking,
    registryHosts,
    installHosts: (lists) => installer.hosts(lists),
    forgetPackages: (tenant, id) => installer.forget(tenant, id),
  });
  const vaults = new VaultService(records, settings.cipher);
  const setup = new SessionSetup({
    agentSettings: engine.agentSettings,
    secrets: engine.secrets,
    policies: engine.policies,
    egressChanged: engine.egressChanged,
    vaults,
    registryHosts,
  });
  const sessions = new SessionService({
    records,
    agents,
    environments,
    vaults,
    setup,
    packages: installer,
    catalog: engine.catalog,
    execute: engine.execute,
    events: engine.events,
    feed: new SessionFeed({ state: engine.state, events: engine.events, logger: engine.logger }),
    state: engine.state,
    hostId: settings.hostId,
    workspaces: engine.workspaces,
    approvals: engine.approvals,
    logger: engine.logger,
  });
  return { agents, environments, vaults, sessions };
}
