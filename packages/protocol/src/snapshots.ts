import { z } from 'zod';

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

export type Snapshot = z.infer<typeof snapshotSchema>;
export type RestoreWorkspaceInput = z.input<typeof restoreWorkspaceBody>;
export type SnapshotList = z.infer<typeof snapshotListSchema>;
