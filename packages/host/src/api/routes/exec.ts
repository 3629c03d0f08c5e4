import { StringDecoder } from 'node:string_decoder';
import type { ExecResult } from '@workcell/protocol';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ExecChunk } from '../../containers/runtime.js';
import type { ExecEnd, StartedExec } from '../../exec/exec-service.js';
import { CappedOutput } from '../../exec/exec-output.js';
import type { ApiServices } from '../context.js';
import { ops, route } from '../contract.js';
import type { SseHub } from '../sse.js';

function wantsEventStream(request: FastifyRequest): boolean {
  return (request.headers.accept ?? '').includes('text/event-stream');
}

/** Aborts when the client goes away before the answer is complete (the command is then killed). */
function clientGone(reply: FastifyReply): AbortSignal {
  const abort = new AbortController();
  reply.raw.on('close', () => {
    if (!reply.raw.writableFinished) abort.abort();
  });
  if (reply.raw.destroyed) abort.abort();
  return abort.signal;
}

/** The `exit` event's data and the JSON answer's common fields. */
function endFields(end: ExecEnd): Pick<ExecResult, 'signal' | 'durationMs' | 'timedOut' | 'error'> {
  return {
    signal: end.exit.signal,
    durationMs: end.durationMs,
    timedOut: end.timedOut,
    ...(end.error ? { error: end.error } : {}),
  };
}

/** Runs the command to its end and answers its capped output as JSON. */
async function answerJson(
  exec: StartedExec,
  reply: FastifyReply,
  capBytes: number,
): Promise<ExecResult> {
  const output = new CappedOutput(capBytes);
  const end = await exec.run((chunk) => output.add(chunk), clientGone(reply));
  return {
    exitCode: end.exit.code,
    ...endFields(end),
    stdout: output.text('stdout'),
    stderr: output.text('stderr'),
    truncated: output.truncated,
  };
}

/** Streams the command's output as SSE `stdout` / `stderr` events, then `exit`. */
async function answerStream(
  exec: StartedExec,
  reply: FastifyReply,
  hub: SseHub,
  s: ApiServices,
): Promise<FastifyReply> {
  reply.hijack();
  const signal = clientGone(reply);
  let sse: ReturnType<SseHub['start']> | null = null;
  try {
    sse = hub.start(reply.raw);
  } catch (err) {
    s.logger.error({ execId: exec.id, err }, 'cannot start the exec stream');
    reply.raw.destroy();
  }
  let seq = 0;
  const send = async (event: string, data: unknown): Promise<void> => {
    if (!sse || sse.isClosed) return;
    seq += 1;
    if (!sse.send({ seq, event, data: JSON.stringify(data) })) await sse.drained();
  };
  // Multi-byte characters split across chunks are joined before they are sent.
  const decoders = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') };
  const end = await exec.run(async (chunk: ExecChunk) => {
    const text = decoders[chunk.stream].write(chunk.data);
    if (text) await send(chunk.stream, { data: text });
  }, signal);
  for (const stream of ['stdout', 'stderr'] as const) {
    const rest = decoders[stream].end();
    if (rest) await send(stream, { data: rest });
  }
  await send('exit', { code: end.exit.code, ...endFields(end) });
  sse?.end();
  return reply;
}

export function registerExecRoutes(app: FastifyInstance, s: ApiServices, hub: SseHub): void {
  route(app, ops.exec, async (request, reply, { params, body }) => {
    const exec = await s.exec.start(request.principal, params.wid, body);
    if (wantsEventStream(request)) return answerStream(exec, reply, hub, s);
    return answerJson(exec, reply, s.limits.maxExecOutputBytes);
  });
}
