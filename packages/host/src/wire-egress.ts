import { type MockModel } from '@workcell/mock-model';
import { parseCidrList, parseEgressPatterns } from '@workcell/proxy';
import type { Logger } from 'pino';
import {
  AgentSettingsPolicy,
  AgentSettingsService,
  AgentSettingsStore,
  workspaceMcpEgress,
} from './agent-settings/index.js';
import type { ResolvedConfig } from './config/load.js';
import { EgressListeners } from './containers/egress-listeners.js';
import type { SlotStore } from './containers/slots.js';
import type { ControlMessages } from './control/control-messages.js';
import { createEgressGateway } from './egress-proxy.js';
import type { AuditTrail } from './egress/gateway.js';
import { PolicyStore } from './egress/policy-store.js';
import type { WorkcellMetrics } from './metrics/metrics.js';
import { SecretCipher } from './secrets/cipher.js';
import { SecretStore } from './secrets/secret-store.js';
import { loadInterception } from './secrets/trust.js';
import { type Clock } from './time/clock.js';
import type { ObjectStore } from './storage/object-store.js';

/**
 * Builds what decides and carries a workspace's egress: the agent settings (whose MCP hosts
 * join the egress policy), the egress policies, the secrets, the credential proxy (in a process
 * of its own or inline, `WORKCELL_PROXY_ISOLATION`) and the egress listeners.
 */
export async function wireEgress(
  config: ResolvedConfig,
  deps: {
    objects: ObjectStore;
    slots: SlotStore;
    clock: Clock;
    /** A test's clock, which then times the proxy's audit records too. */
    testClock: Clock | null;
    log: (component: string) => Logger;
    /** The root logger: the proxy process's own lines are logged through it. */
    logger: Logger;
    dataDir: string;
    mockModel: MockModel | null;
    messages: ControlMessages;
    metrics: WorkcellMetrics;
    audit: AuditTrail;
  },
) {
  const { objects, slots, clock, log, dataDir, mockModel, messages, metrics, audit } = deps;
  const { hostId } = config;
  const agentPolicy = new AgentSettingsPolicy({
    defaults: { ...config.agentDefaults, ...(config.model ? { model: config.model } : {}) },
    modelsAllowed: config.modelsAllowed ?? null,
    allowCustomSystemPrompt: config.agentCustomSystemPrompt,
  });
  const agentSettingsStore = new AgentSettingsStore(objects);
  const policies = new PolicyStore(
    {
      allow: parseEgressPatterns(config.egressAllow, 'WORKCELL_EGRESS_ALLOW'),
      deny: parseEgressPatterns(config.egressDeny, 'WORKCELL_EGRESS_DENY'),
      allowPrivate: parseCidrList(config.egressAllowPrivate, 'WORKCELL_EGRESS_ALLOW_PRIVATE'),
    },
    objects,
    log('egress-policy'),
    () => clock.now(),
    // The hosts of the workspace's MCP servers join its allow list.
    workspaceMcpEgress({ store: agentSettingsStore, policy: agentPolicy }),
  );
  const agentSettings = new AgentSettingsService({
    store: agentSettingsStore,
    policy: agentPolicy,
    // A settings change reloads the workspace's egress policy here and on the hosts caching it.
    changed: async (tenant, workspaceId) => {
      await policies.reload(tenant, workspaceId);
      await messages.egressChanged(tenant, workspaceId);
    },
  });
  const secretCipher = config.secretsKey ? new SecretCipher(config.secretsKey) : null;
  const secrets = new SecretStore(secretCipher, objects, log('secrets'));
  // With secrets on, the proxy terminates TLS for secret hosts with the installation's CA,
  // whose public half every container trusts.
  const trust = secrets.enabled
    ? await loadInterception(dataDir, config.upstreamCaFile ?? null)
    : null;
  const auditLogger = log('egress-audit');
  const egress = await createEgressGateway(config, {
    upstreams: {
      anthropic: mockModel?.url ?? config.anthropicUpstream,
      bedrock: mockModel?.url ?? config.bedrockUpstream,
    },
    mockModel: mockModel !== null,
    trust,
    policies,
    secrets,
    audit: (record) => {
      audit.record(record);
      metrics.proxyRequest(record.decision);
      metrics.proxySecrets(record);
      auditLogger.info({ audit: record }, 'egress');
    },
    metrics,
    logger: deps.logger,
    clock: deps.testClock,
  });
  const { gateway } = egress;
  const listeners = new EgressListeners({
    gateway,
    slots,
    hostId,
    logger: log('egress-listeners'),
  });

  return {
    agentPolicy,
    agentSettings,
    policies,
    secretCipher,
    secrets,
    trust,
    gateway,
    listeners,
    proxyHealth: egress.health,
  };
}
