import { errorResponseSchema, execBody, execResultSchema } from '@workcell/protocol';
import { op, wsParams } from './operation.js';

const EXEC_SSE_DESCRIPTION =
  'Server-Sent Events: `stdout` and `stderr` (`{data}`, UTF-8 text, as the command writes it), then one `exit` ' +
  '(`{code, signal, durationMs, timedOut, error?}`), and the stream ends. Not resumable: a client that goes away kills the command.';

/** Commands run in a workspace's container. */
export const execOps = {
  exec: op({
    id: 'exec',
    newWork: true,
    method: 'POST',
    path: '/v1/workspaces/:wid/exec',
    summary: "Run a command in the workspace's container",
    description:
      "Runs `command` (argv, no shell) in the container a message would use, as the agent's tools run: uid 1000, no network " +
      "but the proxy, the container's limits, the agent's environment with the workspace's secret placeholders. Files are synced " +
      'in before and out after: what it changes in `/workspace` is saved when it ends. It holds the workspace like a run (a message ' +
      'or another exec meanwhile answers 409 `workspace_busy`). A timeout, or the client going away, kills it and every process it ' +
      'started; so does its own end (a background child does not outlive it). With `Accept: text/event-stream` the output streams; ' +
      'otherwise the answer comes when it ends, its output capped at `WORKCELL_EXEC_MAX_OUTPUT_BYTES` per stream.',
    tag: 'exec',
    auth: 'bearer',
    params: wsParams,
    body: execBody,
    responses: {
      200: {
        description: `the command ended (JSON), or, streamed: ${EXEC_SSE_DESCRIPTION}`,
        schema: execResultSchema,
      },
      400: {
        description:
          '`validation_failed` (argv, timeout over the maximum, ...), `invalid_path` (a cwd outside /workspace), `env_not_allowed`',
        schema: errorResponseSchema,
      },
      404: { description: "no such workspace (or another tenant's)", schema: errorResponseSchema },
      409: {
        description: '`workspace_busy`: a run or a command is in progress in the workspace',
        schema: errorResponseSchema,
      },
      502: {
        description: '`sync_failed` or `container_failed`: the command could not be started',
        schema: errorResponseSchema,
      },
      503: {
        description: '`container_start_failed`, `shutting_down`, `host_at_capacity`',
        schema: errorResponseSchema,
      },
    },
  }),
} as const;
