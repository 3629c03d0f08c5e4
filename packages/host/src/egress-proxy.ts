import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import {
  CredentialProxy,
  parseAnthropicOperations,
  type AuditRecord,
  type ProxyInit,
  type ProxyLimits,
} from '@workcell/proxy';
import type { Logger } from 'pino';
import type { ResolvedConfig } from './config/load.js';
import { splitList } from './config/schema.js';
import type { EgressGateway } from './containers/egress.js';
import { ProxyEgressGateway } from './egress/gateway.js';
import type { PolicyStore } from './egress/policy-store.js';
import { ProcessEgressGateway } from './egress/process-gateway.js';
import type { LaunchProxyChild } from './egress/proxy-process.js';
import type { ProxyHealth } from './metrics/health.js';
import type { WorkcellMetrics } from './metrics/metrics.js';
import type { SecretStore } from './secrets/secret-store.js';
import type { TrustSetup } from './secrets/trust.js';
import type { Clock } from './time/clock.js';

type ProxyOptions = ConstructorParameters<typeof CredentialProxy>[0];

/** The largest Bedrock request body the proxy buffers to sign. */
export const BEDROCK_MAX_BODY_BYTES = 20 * 1024 * 1024;

function limitsOf(config: ResolvedConfig): Partial<ProxyLimits> {
  return {
    maxConnectionsPerListener: config.proxyMaxConnections,
    maxTunnelsPerListener: config.proxyMaxTunnels,
    tunnelIdleTimeoutMs: config.proxyTunnelIdleMs,
    headersTimeoutMs: config.proxyHeadersTimeoutMs,
    requestTimeoutMs: config.proxyRequestTimeoutMs,
    maxBufferedBodyBytes: config.proxyMaxBufferedBytes,
  };
}

/** The built-in mock model runs in-process: it takes any key, and an offline demo has none. */
function anthropicKey(config: ResolvedConfig, mockModel: boolean): string | undefined {
  return config.anthropicApiKey ?? (mockModel ? 'mock-model-key' : undefined);
}

function anthropicOperations(config: ResolvedConfig): ReturnType<typeof parseAnthropicOperations> {
  return parseAnthropicOperations(
    splitList(config.anthropicOperations),
    'WORKCELL_ANTHROPIC_OPERATIONS',
  );
}

/** The credential proxy every workspace container's egress goes through, from the settings. */
export function createCredentialProxy(
  config: ResolvedConfig,
  deps: {
    upstreams: { anthropic: string; bedrock: string };
    /** The built-in mock model runs in-process: it takes any key, and an offline demo has none. */
    mockModel: boolean;
    interception: ProxyOptions['interception'];
    audit: (record: AuditRecord) => void;
    logger: Logger;
    /** A test's clock, which then times audit records too; else the proxy's high-resolution one. */
    clock: Clock | null;
  },
): CredentialProxy {
  const { clock } = deps;
  const key = anthropicKey(config, deps.mockModel);
  return new CredentialProxy({
    anthropic: {
      upstream: new URL(deps.upstreams.anthropic),
      apiKey: () => key,
      operations: anthropicOperations(config),
    },
    bedrock: {
      upstream: new URL(deps.upstreams.bedrock),
      region: config.awsRegion,
      // The AWS SDK's default chain; the object store has its own keys (`WORKCELL_S3_*`).
      credentials: fromNodeProviderChain(),
      maxBodyBytes: BEDROCK_MAX_BODY_BYTES,
    },
    limits: limitsOf(config),
    audit: deps.audit,
    logger: deps.logger,
    interception: deps.interception,
    ...(clock ? { clock: () => clock.now() } : {}),
  });
}

/**
 * What the proxy process is built from: the same settings as `createCredentialProxy`, as data.
 * The CA is named by its directories (the process loads it); AWS credentials are asked of the
 * host when a request is signed.
 */
export function proxyInit(
  config: ResolvedConfig,
  deps: {
    upstreams: { anthropic: string; bedrock: string };
    mockModel: boolean;
    trust: TrustSetup | null;
    logLevel: string;
  },
): ProxyInit {
  return {
    logLevel: deps.logLevel,
    anthropic: {
      upstream: deps.upstreams.anthropic,
      apiKey: anthropicKey(config, deps.mockModel) ?? null,
      operations: anthropicOperations(config),
    },
    bedrock: {
      upstream: deps.upstreams.bedrock,
      region: config.awsRegion,
      maxBodyBytes: BEDROCK_MAX_BODY_BYTES,
    },
    limits: limitsOf(config),
    interception: deps.trust
      ? { caPaths: deps.trust.caPaths, upstreamCaFile: deps.trust.upstreamCaFile }
      : null,
  };
}

/** The egress gateway and the proxy's state for `/health`. */
export interface EgressSetup {
  gateway: EgressGateway;
  health: () => ProxyHealth;
}

/**
 * The egress gateway `WORKCELL_PROXY_ISOLATION` asks for: the credential proxy in a supervised
 * process of its own (`process`; started here, so a CA or upstream it cannot use stops
 * start-up), or in this one (`inline`). Either way audit records land in `audit`, here.
 */
export async function createEgressGateway(
  config: ResolvedConfig,
  deps: {
    upstreams: { anthropic: string; bedrock: string };
    mockModel: boolean;
    trust: TrustSetup | null;
    policies: PolicyStore;
    secrets: SecretStore;
    audit: (record: AuditRecord) => void;
    metrics: WorkcellMetrics;
    /** The host's root logger: the proxy process's lines are logged through it. */
    logger: Logger;
    /** A test's clock (times the inline proxy's audit records; the supervisor keeps real time). */
    clock: Clock | null;
    /** Starts the proxy process (a test's fake); default a fork of the proxy package's entry. */
    launch?: LaunchProxyChild;
  },
): Promise<EgressSetup> {
  const { logger } = deps;
  if (config.proxyIsolation === 'inline') {
    const proxy = createCredentialProxy(config, {
      upstreams: deps.upstreams,
      mockModel: deps.mockModel,
      interception: deps.trust?.interception ?? null,
      audit: deps.audit,
      logger: logger.child({ component: 'proxy' }),
      clock: deps.clock,
    });
    const health: ProxyHealth = {
      isolation: 'inline',
      ok: true,
      state: 'running',
      pid: process.pid,
      standby: false,
      restarts: 0,
      lastExit: null,
    };
    return {
      gateway: new ProxyEgressGateway(proxy, deps.policies, deps.secrets),
      health: () => health,
    };
  }
  const gateway = new ProcessEgressGateway({
    process: {
      ...(deps.launch ? { launch: deps.launch } : {}),
      init: proxyInit(config, { ...deps, logLevel: logger.level }),
      logger: logger.child({ component: 'proxy-supervisor' }),
      childLogger: logger,
      audit: deps.audit,
      // The AWS SDK's default chain, asked by the proxy process when it signs.
      credentials: fromNodeProviderChain(),
      died: () => deps.metrics.proxyRestarted(),
    },
    policies: deps.policies,
    secrets: deps.secrets,
    logger: logger.child({ component: 'egress-gateway' }),
  });
  await gateway.start();
  return {
    gateway,
    health: () => {
      const status = gateway.status();
      return {
        isolation: 'process',
        ok: status.state !== 'backoff' && status.state !== 'stopped',
        ...status,
      };
    },
  };
}
