import { CONTAINER_PATHS, EGRESS_BRIDGE_PORT, processEnvironment } from '@workcell/protocol';

/** The model provider the agent is set up for (`WORKCELL_MODEL_PROVIDER`). */
export interface ExecEnvSettings {
  provider: 'anthropic' | 'bedrock';
  awsRegion: string;
}

/**
 * The environment a command gets on top of its container's (which already names the trust
 * bundle, the provider and HOME): the one the agent gives its SDK and tools
 * (`processEnvironment`, which `packages/agent/src/sdk-env.ts` uses too). The workspace's secret placeholders
 * (`WORKCELL_SECRET_<NAME>`) are there, never a value. `extra` (the workspace's agent `env`, then
 * the request's) comes first: what is set here wins, and the schemas refuse the names it sets.
 */
export function execEnvironment(
  settings: ExecEnvSettings,
  placeholders: Readonly<Record<string, string>>,
  extra: Readonly<Record<string, string>> = {},
): Record<string, string> {
  return {
    ...extra,
    ...placeholders,
    ...processEnvironment({
      ...settings,
      bridgePort: EGRESS_BRIDGE_PORT,
      home: CONTAINER_PATHS.home,
      claudeConfigDir: CONTAINER_PATHS.claudeConfig,
    }),
  };
}
