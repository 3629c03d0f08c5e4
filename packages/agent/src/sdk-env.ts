import {
  AGENT_MAX_BODY_ENV,
  CONTAINER_PATHS,
  maxRequestBytes,
  processEnvironment,
} from '@workcell/protocol';

export type ModelProvider = 'anthropic' | 'bedrock';

/** What the agent reads from its container environment (all non-secret). */
export interface AgentSettings {
  provider: ModelProvider;
  awsRegion: string;
  bridgePort: number;
  workspaceDir: string;
  claudeConfigDir: string;
  home: string;
  claudeExecutable: string;
  version: string;
  /** Trust-store variables naming the mounted Workcell CA, passed on to the SDK and its tools. */
  trustEnv: Record<string, string>;
  /** The largest request body the agent's API accepts. */
  maxBodyBytes: number;
}

function positiveInt(raw: string | undefined): number | null {
  const n = Number(raw);
  return raw !== undefined && Number.isSafeInteger(n) && n > 0 ? n : null;
}

/** Variables that point TLS clients at the mounted trust (set by the host on the container). */
export const TRUST_VARIABLES = [
  'SSL_CERT_FILE',
  'NODE_EXTRA_CA_CERTS',
  'REQUESTS_CA_BUNDLE',
  'GIT_SSL_CAINFO',
  'CURL_CA_BUNDLE',
] as const;

export function readAgentSettings(env: NodeJS.ProcessEnv): AgentSettings {
  const provider = env.WORKCELL_MODEL_PROVIDER === 'bedrock' ? 'bedrock' : 'anthropic';
  return {
    provider,
    awsRegion: env.AWS_REGION ?? 'us-east-1',
    bridgePort: Number(env.WORKCELL_BRIDGE_PORT ?? 3128),
    workspaceDir: env.WORKCELL_WORKSPACE_DIR ?? CONTAINER_PATHS.workspace,
    claudeConfigDir: env.CLAUDE_CONFIG_DIR ?? CONTAINER_PATHS.claudeConfig,
    home: env.HOME ?? CONTAINER_PATHS.home,
    claudeExecutable: env.WORKCELL_CLAUDE_EXECUTABLE ?? '/opt/workcell/claude/claude',
    version: env.WORKCELL_AGENT_VERSION ?? '0.0.0',
    trustEnv: Object.fromEntries(
      TRUST_VARIABLES.filter((name) => env[name]).map((name) => [name, env[name] ?? '']),
    ),
    // The host sets it from WORKCELL_MAX_PROMPT_BYTES; the default fits the host's default.
    maxBodyBytes: positiveInt(env[AGENT_MAX_BODY_ENV]) ?? maxRequestBytes(256 * 1024),
  };
}

/**
 * The complete environment of the SDK's CLI process (the SDK's `env` option replaces the
 * process environment): `processEnvironment` (the egress bridge as proxy and model base URL, no
 * credential), the mounted trust, and the workspace's secret placeholders
 * (`WORKCELL_SECRET_<NAME>`), which the proxy swaps for values only toward each secret's hosts.
 */
export function sdkEnvironment(
  settings: AgentSettings,
  path: string,
  placeholders: Record<string, string> = {},
): Record<string, string> {
  return {
    ...placeholders,
    ...settings.trustEnv,
    PATH: path,
    ...processEnvironment(settings),
  };
}
