import { z } from 'zod';
import { conversationSchema, workspaceSchema } from './api.js';

/*
 * Snapshots, forks and restores of workspaces and conversations: the API's shapes.
 */

export const snapshotSchema = z.object({
  id: z.string().describe('the snapshot id (`snap_...`)'),
  runId: z.string().optional().describe('the run whose sync out recorded it'),
  createdAt: z.string().describe('ISO 8601 time'),
  files: z.number().int().describe('files in the snapshot'),
  bytes: z.number().int().describe('their total size'),
});

export const snapshotListSchema = z.object({
  snapshots: z.array(snapshotSchema).describe('newest first'),
  nextCursor: z
    .string()
    .nullable()
    .describe('pass as `cursor` for the next page; null on the last page'),
});

export const restoreWorkspaceBody = z
  .object({
    snapshotId: z.string().min(1).max(64).describe('the snapshot whose files the workspace gets'),
  })
  .strict();

export const forkWorkspaceBody = z
  .object({
    name: z.string().min(1).max(200).optional().describe("the new workspace's name"),
    snapshotId: z
      .string()
      .min(1)
      .max(64)
      .optional()
      .describe('the snapshot whose files the fork gets; the newest when absent'),
  })
  .strict();

export const forkedWorkspaceSchema = z.object({
  workspace: workspaceSchema,
  conversations: z
    .array(
      z.object({
        from: z.string().describe("the source workspace's conversation"),
        to: z.string().describe('the conversation of the fork that continues it'),
      }),
    )
    .describe('one entry per conversation of the source, in creation order'),
});

export const forkConversationBody = z
  .object({
    atRunId: z
      .string()
      .min(1)
      .max(128)
      .optional()
      .describe('the last run the fork keeps; the newest ended run when absent'),
  })
  .strict();

export const rewindConversationBody = z
  .object({
    toRunId: z.string().min(1).max(128).describe('the run the conversation continues from'),
    files: z
      .boolean()
      .optional()
      .describe("also return the workspace's files to the snapshot as of that run"),
  })
  .strict();

export const rewoundConversationSchema = z.object({
  conversation: conversationSchema,
  toRunId: z.string().describe('the run the conversation now continues from'),
  rewoundRunIds: z.array(z.string()).describe('the later runs, now marked `rewound`'),
  snapshotId: z
    .string()
    .nullable()
    .describe('the snapshot the files were returned to; null without `files: true`'),
});

export type ForkWorkspaceInput = z.input<typeof forkWorkspaceBody>;
export type ForkedWorkspace = z.infer<typeof forkedWorkspaceSchema>;
export type ForkConversationInput = z.input<typeof forkConversationBody>;
export type RewindConversationInput = z.input<typeof rewindConversationBody>;
export type RewoundConversation = z.infer<typeof rewoundConversationSchema>;
export type Snapshot = z.infer<typeof snapshotSchema>;
export type RestoreWorkspaceInput = z.input<typeof restoreWorkspaceBody>;
export type SnapshotList = z.infer<typeof snapshotListSchema>;
