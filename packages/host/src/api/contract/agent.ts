import { putAgentBody, workspaceAgentSchema } from '@workcell/protocol';
import { op, wsParams } from './operation.js';

/** A workspace's agent settings. */
export const agentOps = {
  getAgent: op({
    id: 'getAgent',
    method: 'GET',
    path: '/v1/workspaces/:wid/agent',
    summary: "A workspace's agent settings and the effective settings with the operator's defaults",
    tag: 'agent',
    auth: 'bearer',
    params: wsParams,
    responses: { 200: { description: 'the settings', schema: workspaceAgentSchema } },
  }),
  putAgent: op({
    id: 'putAgent',
    method: 'PUT',
    path: '/v1/workspaces/:wid/agent',
    summary: "Replace a workspace's agent settings (applies from the next message)",
    description:
      "The body is the workspace's whole settings object (`{}` clears them). A bad setting answers 400 " +
      '(`validation_failed`, `model_not_allowed`, `system_prompt_not_allowed`, `env_not_allowed`) and nothing changes. ' +
      "The hosts of `mcpServers` join the workspace's egress policy.",
    tag: 'agent',
    auth: 'bearer',
    params: wsParams,
    body: putAgentBody,
    responses: { 200: { description: 'the new settings', schema: workspaceAgentSchema } },
  }),
} as const;
