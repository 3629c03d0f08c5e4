import { ROUTE_PREFIX } from './agent-wire.js';

/** What the environment of a process in a workspace container is made from (all non-secret). */
export interface ProcessEnvSettings {
  provider: 'anthropic' | 'bedrock';
  awsRegion: string;
  /** The container's egress bridge port (the proxy, reached at 127.0.0.1). */
  bridgePort: number;
  home: string;
  claudeConfigDir: string;
}

/**
 * The environment the agent gives the SDK's CLI and its tools, and `exec` gives a command, so a
 * command behaves as the agent's Bash tool does. Model traffic goes to the egress bridge by base
 * URL; everything else reaches allowlisted hosts through it, as a CONNECT proxy for HTTPS and an
 * absolute-form proxy for plain HTTP. No credential is set: the placeholder key is stripped by
 * the host's proxy, which adds the real one.
 */
export function processEnvironment(settings: ProcessEnvSettings): Record<string, string> {
  const bridge = `http://127.0.0.1:${settings.bridgePort}`;
  const env: Record<string, string> = {
    HOME: settings.home,
    LANG: 'C.UTF-8',
    CLAUDE_CONFIG_DIR: settings.claudeConfigDir,
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
