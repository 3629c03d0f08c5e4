import {
  AGENT_MAX_BODY_ENV,
  AGENT_READY_ENV,
  maxRequestBytes,
  type RunOptions,
} from '@workcell/protocol';
import type { ResolvedConfig } from './config/load.js';

/** The largest message: its text and its images, base64 (4 characters for every 3 bytes). */
export function messageBytes(
  config: Pick<ResolvedConfig, 'maxPromptBytes' | 'maxImageBytes'>,
): number {
  return config.maxPromptBytes + Math.ceil(config.maxImageBytes / 3) * 4;
}

/**
 * The non-secret environment of every agent: the model provider and region, and the agent's
 * body limit, the same as the API's for one message (`WORKCELL_MAX_PROMPT_BYTES`).
 */
export function agentEnvironment(
  config: Pick<
    ResolvedConfig,
    | 'modelProvider'
    | 'awsRegion'
    | 'maxPromptBytes'
    | 'maxImageBytes'
    | 'agentPrewarm'
    | 'agentReadyIdleMs'
  >,
): Record<string, string> {
  return {
    WORKCELL_MODEL_PROVIDER: config.modelProvider,
    AWS_REGION: config.awsRegion,
    [AGENT_MAX_BODY_ENV]: String(maxRequestBytes(messageBytes(config))),
    [AGENT_READY_ENV.enabled]: String(config.agentPrewarm),
    [AGENT_READY_ENV.idleMs]: String(config.agentReadyIdleMs),
  };
}

/** What a warm container's agent starts Claude Code for: the operator's default run options. */
export function warmAgentEnvironment(defaults: RunOptions): Record<string, string> {
  return { [AGENT_READY_ENV.options]: JSON.stringify(defaults) };
}
