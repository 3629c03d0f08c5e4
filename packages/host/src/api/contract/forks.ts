import {
  conversationSchema,
  errorResponseSchema,
  forkConversationBody,
  forkWorkspaceBody,
  forkedWorkspaceSchema,
  rewindConversationBody,
  rewoundConversationSchema,
} from '@workcell/protocol';
import { convParams, op, wsParams } from './operation.js';

const BAD_BODY = {
  description: '`validation_failed`: a body that is not the documented shape (unknown fields too)',
  schema: errorResponseSchema,
};

/** Forks of workspaces and conversations, and rewinds of conversations. */
export const forkOps = {
  forkWorkspace: op({
    id: 'forkWorkspace',
    method: 'POST',
    path: '/v1/workspaces/:wid/fork',
    summary: 'Fork a workspace: its files as of a snapshot, its settings and every conversation',
    description:
      'The new workspace gets the files of the snapshot (the newest when `snapshotId` is absent; the ' +
      'bytes are shared, not copied), the snapshots up to it, the agent settings, the egress ' +
      'narrowing, the workspace secrets, and a copy of every conversation whose next message ' +
      'continues its history. Allowed while a run holds the source: the fork has what was last ' +
      'stored, and only ended runs. Nothing of the fork is visible until all of it is stored.',
    tag: 'workspaces',
    auth: 'bearer',
    params: wsParams,
    body: forkWorkspaceBody,
    responses: {
      201: {
        description: 'the fork and its conversations by source',
        schema: forkedWorkspaceSchema,
      },
      400: BAD_BODY,
      404: {
        description:
          '`not_found`: the workspace (also when deleted during the fork) or the snapshot',
        schema: errorResponseSchema,
      },
    },
  }),
  forkConversation: op({
    id: 'forkConversation',
    method: 'POST',
    path: '/v1/conversations/:cid/fork',
    summary: 'Fork a conversation at a run: a new conversation whose history ends with that run',
    description:
      'The new conversation is in the same workspace, holds the runs up to `atRunId` (the newest ' +
      'ended run when absent), and its next message resumes a session holding exactly their turns.',
    tag: 'conversations',
    auth: 'bearer',
    params: convParams,
    body: forkConversationBody,
    responses: {
      201: { description: 'the new conversation', schema: conversationSchema },
      400: {
        description:
          "`validation_failed` for a bad body; `bad_request`: the run is another conversation's",
        schema: errorResponseSchema,
      },
      404: { description: '`not_found`: the conversation or the run', schema: errorResponseSchema },
      409: {
        description:
          "`workspace_busy`: a run holds the workspace; `conflict`: the run has not ended or was rewound; `session_lost`: the conversation's transcript is not stored",
        schema: errorResponseSchema,
      },
    },
  }),
  rewindConversation: op({
    id: 'rewindConversation',
    method: 'POST',
    path: '/v1/conversations/:cid/rewind',
    summary: "Rewind a conversation to a run, and optionally the files to that run's snapshot",
    description:
      'The next message continues from the end of `toRunId`; the later runs stay in the history, ' +
      "marked `rewound`. With `files: true` the workspace's files return to the snapshot as of " +
      'that run (the one its sync out recorded, else the newest before it ended).',
    tag: 'conversations',
    auth: 'bearer',
    params: convParams,
    body: rewindConversationBody,
    responses: {
      200: { description: 'the conversation, rewound', schema: rewoundConversationSchema },
      400: {
        description:
          "`validation_failed` for a bad body; `bad_request`: the run is another conversation's",
        schema: errorResponseSchema,
      },
      404: { description: '`not_found`: the conversation or the run', schema: errorResponseSchema },
      409: {
        description:
          "`workspace_busy`: a run holds the workspace; `conflict`: the run has not ended, was rewound, or (with `files`) no snapshot as of it is kept; `session_lost`: the conversation's transcript is not stored",
        schema: errorResponseSchema,
      },
    },
  }),
} as const;
