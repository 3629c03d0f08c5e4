import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { CredentialProxy, parseAnthropicOperations, type AuditRecord } from '@workcell/proxy';
import type { Logger } from 'pino';
import type { ResolvedConfig } from './config/load.js';
import { splitList } from './config/schema.js';
import type { Clock } from './time/clock.js';

type ProxyOptions = ConstructorParameters<typeof CredentialProxy>[0];

/** The largest Bedrock request body the proxy buffers to sign. */
export const BEDROCK_MAX_BODY_BYTES = 20 * 1024 * 1024;

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
  return new CredentialProxy({
    anthropic: {
      upstream: new URL(deps.upstreams.anthropic),
      apiKey: () => config.anthropicApiKey ?? (deps.mockModel ? 'mock-model-key' : undefined),
      operations: parseAnthropicOperations(
        splitList(config.anthropicOperations),
        'WORKCELL_ANTHROPIC_OPERATIONS',
      ),
    },
    bedrock: {
      upstream: new URL(deps.upstreams.bedrock),
      region: config.awsRegion,
      // The AWS SDK's default chain; the object store has its own keys (`WORKCELL_S3_*`).
      credentials: fromNodeProviderChain(),
      maxBodyBytes: BEDROCK_MAX_BODY_BYTES,
    },
    limits: {
      maxConnectionsPerListener: config.proxyMaxConnections,
      maxTunnelsPerListener: config.proxyMaxTunnels,
      tunnelIdleTimeoutMs: config.proxyTunnelIdleMs,
      headersTimeoutMs: config.proxyHeadersTimeoutMs,
      requestTimeoutMs: config.proxyRequestTimeoutMs,
      maxBufferedBodyBytes: config.proxyMaxBufferedBytes,
    },
    audit: deps.audit,
    logger: deps.logger,
    interception: deps.interception,
    ...(clock ? { clock: () => clock.now() } : {}),
  });
}
