import { agentAnswerSchema } from '@workcell/protocol';
import { z } from 'zod';

/**
 * What one host asks of the others. A message names the host that sent it; every host hears
 * every message and acts only on what it holds (the run, the container, the cached policy).
 */
export const controlMessage = z.discriminatedUnion('type', [
  /** Stop a run; the host running it interrupts it as if the request had come to it. */
  z.object({ type: z.literal('interrupt'), from: z.string(), runId: z.string().min(1) }),
  /**
   * Remove a container its owner holds (workspace deleted, or the workspace moved to another
   * host). Its files need no sync out: no run is in progress on it, and its last run's files
   * are already in the object store.
   */
  z.object({
    type: z.literal('remove-container'),
    from: z.string(),
    containerId: z.string().min(1),
    reason: z.string(),
  }),
  /** A workspace's files changed through the API: its container (between runs) gets them now. */
  z.object({
    type: z.literal('files-changed'),
    from: z.string(),
    tenant: z.string(),
    workspaceId: z.string().min(1),
  }),
  /** A workspace's egress policy changed: drop the cached one and read it again. */
  z.object({
    type: z.literal('egress-changed'),
    from: z.string(),
    tenant: z.string(),
    workspaceId: z.string().min(1),
  }),
  /**
   * An answer to an approval or client tool call, already settled in the state store: the host
   * holding the run delivers it to the agent (`approvals/`).
   */
  z.object({
    type: z.literal('answer'),
    from: z.string(),
    runId: z.string().min(1),
    itemId: z.string().min(1),
    answer: agentAnswerSchema,
  }),
]);

export type ControlMessage = z.infer<typeof controlMessage>;

/** A message as a caller builds it; the bus stamps `from`. */
export type ControlRequest = ControlMessage extends infer M
  ? M extends ControlMessage
    ? Omit<M, 'from'>
    : never
  : never;
