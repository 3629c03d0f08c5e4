import {
  WorkcellError,
  measureContent,
  type MessageContent,
  type RunOptions,
} from '@workcell/protocol';
import type { MessageAgentSettings, ResolvedAgent } from '../agent-settings/index.js';

/** What a run hands the agent: the message's content and the resolved settings. */
export interface RunInput {
  prompt: MessageContent;
  options: RunOptions | undefined;
}

/**
 * The largest run input (as JSON) recorded with an accepted run for a host that starts it
 * again should this one stop before the run has a container.
 */
export const MAX_RECORDED_INPUT_BYTES = 1024 * 1024;

/** `input` as recorded with an accepted run; null when it is over `MAX_RECORDED_INPUT_BYTES`. */
export function recordableInput(
  input: RunInput,
): { prompt: MessageContent; options?: RunOptions } | null {
  const recorded = { prompt: input.prompt, ...(input.options ? { options: input.options } : {}) };
  return Buffer.byteLength(JSON.stringify(recorded)) <= MAX_RECORDED_INPUT_BYTES ? recorded : null;
}

/** Resolves a run's agent settings (the `AgentSettingsService`). */
export interface AgentResolver {
  resolve(
    tenant: string,
    workspaceId: string,
    overrides: MessageAgentSettings | undefined,
  ): Promise<ResolvedAgent>;
}

/** Refuses content over the size limits with `payload_too_large`. */
export function checkContentSize(
  content: MessageContent,
  limits: { maxPromptBytes: number; maxImageBytes: number },
): void {
  const { textBytes, imageBytes } = measureContent(content);
  if (textBytes > limits.maxPromptBytes)
    throw new WorkcellError(
      'payload_too_large',
      `message content is over ${limits.maxPromptBytes} bytes`,
    );
  if (imageBytes > limits.maxImageBytes)
    throw new WorkcellError(
      'payload_too_large',
      limits.maxImageBytes === 0
        ? 'images are not accepted here'
        : `the message's images are over ${limits.maxImageBytes} bytes in all`,
    );
}
