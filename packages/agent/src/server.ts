import { chmodSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import {
  CONTROL_TOKEN_HEADER,
  WorkcellError,
  agentAnswerSchema,
  runRequestSchema,
  toErrorBody,
  type AgentEvent,
  type AgentHealth,
  type ErrorCode,
  type ReadyRelease,
  ERROR_STATUS,
} from '@workcell/protocol';
import type { Logger } from 'pino';
import type { ReadyAgents } from './ready.js';
import type { AgentRunner } from './runner.js';

/**
 * The agent's HTTP/1.1 API on its Unix socket (see `@workcell/protocol` agent-wire):
 * `GET /health`, `POST /runs` (NDJSON event stream), `POST /runs/:id/interrupt`,
 * `POST /runs/:id/answers/:itemId` (the host's answer to an approval or a client tool call,
 * with the run's control token), `POST /ready/release`.
 */
export async function startAgentServer(options: {
  socketPath: string;
  runner: AgentRunner;
  /** The ready process, reported by `/health` and released by `POST /ready/release`. */
  ready?: Pick<ReadyAgents, 'ready' | 'release'>;
  version: string;
  logger: Logger;
  /** The largest request body accepted (the host's limit for one message, `maxRequestBytes`). */
  maxBodyBytes: number;
}): Promise<Server> {
  const { socketPath, runner, ready, version, logger, maxBodyBytes } = options;
  const startedAt = Date.now();

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      logger.error({ err }, 'request failed');
      if (!res.headersSent) sendError(res, toErrorBody(err).code, toErrorBody(err).message);
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://agent');
    if (req.method === 'GET' && url.pathname === '/health') {
      const health: AgentHealth = {
        status: 'ok',
        busy: runner.currentRunId !== null,
        runId: runner.currentRunId,
        version,
        uptimeMs: Date.now() - startedAt,
        ready: ready?.ready ?? false,
      };
      sendJson(res, 200, health);
      return;
    }
    if (req.method === 'POST' && url.pathname === '/runs') {
      await startRun(req, res);
      return;
    }
    if (req.method === 'POST' && url.pathname === '/ready/release') {
      const release: ReadyRelease = {
        released: ready?.release(runner.currentRunId !== null) ?? false,
      };
      sendJson(res, 200, release);
      return;
    }
    const interrupt = /^\/runs\/([^/]+)\/interrupt$/.exec(url.pathname);
    if (req.method === 'POST' && interrupt?.[1]) {
      const ok = await runner.interrupt(decodeURIComponent(interrupt[1]));
      if (ok) sendJson(res, 202, { interrupted: true });
      else sendError(res, 'not_found', 'no such run in progress');
      return;
    }
    const answer = /^\/runs\/([^/]+)\/answers\/([^/]+)$/.exec(url.pathname);
    if (req.method === 'POST' && answer?.[1] && answer[2]) {
      await deliverAnswer(req, res, decodeURIComponent(answer[1]), decodeURIComponent(answer[2]));
      return;
    }
    sendError(res, 'not_found', `no route ${req.method ?? ''} ${url.pathname}`);
  }

  async function deliverAnswer(
    req: IncomingMessage,
    res: ServerResponse,
    runId: string,
    itemId: string,
  ): Promise<void> {
    const parsed = agentAnswerSchema.safeParse(await readJson(req, 1024 * 1024 + 64 * 1024));
    if (!parsed.success) throw new WorkcellError('validation_failed', 'not an answer');
    const header = req.headers[CONTROL_TOKEN_HEADER];
    const token = typeof header === 'string' ? header : undefined;
    const outcome = runner.answer(runId, itemId, token, parsed.data);
    switch (outcome) {
      case 'accepted':
        sendJson(res, 200, { accepted: true });
        return;
      case 'answered':
        sendError(
          res,
          parsed.data.kind === 'decision' ? 'approval_decided' : 'tool_call_answered',
          'already answered',
        );
        return;
      case 'mismatch':
        sendError(res, 'conflict', 'the answer is not of the kind the item waits for');
        return;
      case 'unknown':
        // An unknown run, an unknown item and a wrong token look the same.
        logger.warn({ runId, itemId }, 'answer refused: no such run, item or token');
        sendError(res, 'not_found', 'no such item waiting');
        return;
    }
  }

  async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
    try {
      return JSON.parse((await readBody(req, limit)).toString('utf8'));
    } catch (err) {
      if (err instanceof WorkcellError) throw err;
      throw new WorkcellError('invalid_json', 'the body is not valid JSON');
    }
  }

  async function startRun(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readJson(req, maxBodyBytes);
    const parsed = runRequestSchema.safeParse(body);
    if (!parsed.success) {
      throw new WorkcellError(
        'validation_failed',
        parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '),
      );
    }
    const request = parsed.data;
    const run = runner.begin(request);
    logger.info({ runId: request.runId, resume: request.resumeSessionId ?? null }, 'run started');
    res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
    res.flushHeaders();
    let ended = false;
    res.on('close', () => {
      if (!ended) {
        logger.warn({ runId: request.runId }, 'host disconnected during the run; aborting it');
        runner.abort(run);
      }
    });
    let last: AgentEvent | null = null;
    for await (const event of runner.events(run, request)) {
      last = event;
      if (!res.writableEnded && !res.destroyed) res.write(`${JSON.stringify(event)}\n`);
    }
    ended = true;
    res.end();
    logger.info({ runId: request.runId, outcome: last?.type ?? 'none' }, 'run ended');
  }

  rmSync(socketPath, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve());
  });
  // The host connects as root; the socket belongs to the agent user and is not for others.
  chmodSync(socketPath, 0o660);
  return server;
}

function readBody(req: IncomingMessage, maxBodyBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBodyBytes) {
        chunks.push(chunk);
        return;
      }
      // The rest is read and dropped, so the 413 reaches the host rather than a reset.
      chunks.length = 0;
      reject(new WorkcellError('payload_too_large', `the body is over ${maxBodyBytes} bytes`));
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

function sendError(res: ServerResponse, code: ErrorCode, message: string): void {
  sendJson(res, ERROR_STATUS[code], { error: { code, message } });
}
