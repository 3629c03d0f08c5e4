import { CONTAINER_PATHS, EGRESS_BRIDGE_PORT, ROUTE_PREFIX } from '@workcell/protocol';

/** The model provider the agent is set up for (`WORKCELL_MODEL_PROVIDER`). */
export interface ExecEnvSettings {
  provider: 'anthropic' | 'bedrock';
  awsRegion: string;
}

/**
 * The environment a command gets on top of its container's (which already names the trust
 * bundle, the provider and HOME): the one the agent gives its SDK and tools
 * (`packages/agent/src/sdk-env.ts`), so a command behaves as the agent's Bash tool does. Every
 * request goes to the egress bridge (the proxy); the workspace's secret placeholders
 * (`WORKCELL_SECRET_<NAME>`) are there, never a value. `extra` (the workspace's agent `env`, then
 * the request's) comes first: what is set here wins, and the schemas refuse the names it sets.
 */
export function execEnvironment(
  settings: ExecEnvSettings,
  placeholders: Readonly<Record<string, string>>,
  extra: Readonly<Record<string, string>> = {},
): Record<string, string> {
  const bridge = `http://127.0.0.1:${EGRESS_BRIDGE_PORT}`;
  const env: Record<string, string> = {
    ...extra,
    ...placeholders,
    HOME: CONTAINER_PATHS.home,
    LANG: 'C.UTF-8',
    CLAUDE_CONFIG_DIR: CONTAINER_PATHS.claudeConfig,
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    DISABLE_AUTOUPDATER: '1',
    HTTPS_PROXY: bridge,
    https_proxy: bridge,
    HTTP_PROXY: bridge,
    http_proxy: bridge,
    NO_PROXY: '127.0.0.1,localhost',
    no_proxy: '127.0.0.1,localhost',
  };
  if (settings.provider === 'bedrock') {
    env.CLAUDE_CODE_USE_BEDROCK = '1';
    env.CLAUDE_CODE_SKIP_BEDROCK_AUTH = '1';
    env.AWS_REGION = settings.awsRegion;
    env.ANTHROPIC_BEDROCK_BASE_URL = `${bridge}${ROUTE_PREFIX.bedrock}`;
  } else {
    env.ANTHROPIC_BASE_URL = `${bridge}${ROUTE_PREFIX.anthropic}`;
    env.ANTHROPIC_API_KEY = 'workcell-proxy-adds-the-key';
  }
  return env;
}
