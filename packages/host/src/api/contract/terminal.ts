import { errorResponseSchema, terminalQuery } from '@workcell/protocol';
import { op, wsParams, TICKET_REFUSED } from './operation.js';

/** The interactive shell in a workspace's container. */
export const terminalOps = {
  openTerminal: op({
    id: 'openTerminal',
    method: 'GET',
    path: '/v1/workspaces/:wid/terminal',
    summary: "A WebSocket carrying an interactive shell in the workspace's container",
    description:
      'Upgrades to a WebSocket (send `Connection: Upgrade`, `Upgrade: websocket`). The shell is bash as uid 1000 in ' +
      "/workspace, with the agent's isolation, on a PTY. Binary frames carry raw bytes both ways; text frames carry " +
      'JSON control messages: from the client `{"type":"resize","cols":N,"rows":N}` and `{"type":"input","data":"..."}`; ' +
      'from the server `{"type":"ready","containerId":...}` first, `{"type":"exit","exitCode":N|null,"reason":"exited"|"idle"|"shutdown"|"closed"}` ' +
      'last (then the socket closes with 1000), and `{"type":"error",...}` for a refused control message. ' +
      'An open terminal keeps its container alive and never blocks a run; its changes are synced out when it closes ' +
      'and at the end of every run. Refusals come before the upgrade, as HTTP errors.',
    tag: 'terminal',
    auth: 'bearer-or-query',
    params: wsParams,
    query: terminalQuery,
    responses: {
      101: { description: 'switching to the WebSocket protocol' },
      400: { description: '`bad_request`: not a WebSocket upgrade', schema: errorResponseSchema },
      401: { description: TICKET_REFUSED, schema: errorResponseSchema },
      404: { description: 'no such workspace for this tenant', schema: errorResponseSchema },
      409: {
        description: "`workspace_busy`: the workspace's container is being prepared elsewhere",
        schema: errorResponseSchema,
      },
      429: {
        description: '`too_many_terminals`: the workspace or the host is at its terminal limit',
        schema: errorResponseSchema,
      },
      503: {
        description: '`container_start_failed`, `host_at_capacity` or `shutting_down`',
        schema: errorResponseSchema,
      },
    },
  }),
} as const;
