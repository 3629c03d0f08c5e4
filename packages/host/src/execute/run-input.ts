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
