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
import { JournalGap, RunJournal, type JournalLimits } from './run-journal.js';
import type { AgentRunner } from './runner.js';

/**
 * The agent's HTTP/1.1 API on its Unix socket (see `@workcell/protocol` agent-wire):
 * `GET /health`, `POST /runs` (NDJSON event stream), `GET /runs/:id/events?after=N` (the same
 * stream from event N on), `POST /runs/:id/interrupt`, `POST /runs/:id/abort`,
 * `POST /runs/:id/answers/:itemId` (the host's answer to an approval or a client tool call,
 * with the run's control token), `POST /ready/release`.
 *
 * A run outlives its connection: when the host goes away the run goes on, its events kept in
 * the run's journal (`run-journal.ts`), and a host that connects again reads on from the last
 * event it recorded. The journal of the latest run is kept until the next run starts.
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
  /** How much of a run's events are kept for a host that connects again. */
  journalLimits?: JournalLimits;
}): Promise<Server> {
  const { socketPath, runner, ready, version, logger, maxBodyBytes } = options;
  const startedAt = Date.now();
  /** The journal of the run in progress, or of the last one. */
  let latest: RunJournal | null = null;

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
    const events = /^\/runs\/([^/]+)\/events$/.exec(url.pathname);
    if (req.method === 'GET' && events?.[1]) {
      const journal = latest;
      const runId = decodeURIComponent(events[1]);
      if (!journal || journal.runId !== runId) {
        sendError(res, 'not_found', 'no such run');
        return;
      }
      const after = Number(url.searchParams.get('after') ?? '0');
      if (!Number.isSafeInteger(after) || after < 0) {
        sendError(res, 'validation_failed', 'after: a whole number of events');
        return;
      }
      if (after + 1 < journal.firstKept) {
        sendError(res, 'events_lost', `events before ${journal.firstKept} are no longer kept`);
        return;
      }
      logger.info({ runId, after }, 'host connected again to the run');
      await stream(res, journal, after);
      return;
    }
    const action = /^\/runs\/([^/]+)\/(interrupt|abort)$/.exec(url.pathname);
    if (req.method === 'POST' && action?.[1]) {
      const runId = decodeURIComponent(action[1]);
      const ok = action[2] === 'interrupt' ? await runner.interrupt(runId) : runner.abortRun(runId);
      if (ok) sendJson(res, 202, { [action[2] === 'interrupt' ? 'interrupted' : 'aborted']: true });
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
    const journal = new RunJournal(request.runId, options.journalLimits);
    latest = journal;
    logger.info({ runId: request.runId, resume: request.resumeSessionId ?? null }, 'run started');
    void record(journal, runner.events(run, request));
    await stream(res, journal, 0);
  }

  /** Puts every event of a run into its journal, whoever follows it. */
  async function record(journal: RunJournal, events: AsyncIterable<AgentEvent>): Promise<void> {
    let last: AgentEvent | null = null;
    try {
      for await (const event of events) {
        last = event;
        journal.push(event);
      }
    } catch (err) {
      logger.error({ runId: journal.runId, err }, 'the run failed outside the SDK');
      if (last?.type !== 'run.completed' && last?.type !== 'run.failed') {
        last = {
          type: 'run.failed',
          error: {
            code: 'agent_failed',
            message: err instanceof Error ? err.message : String(err),
          },
        };
        journal.push(last);
      }
    } finally {
      journal.end();
      logger.info({ runId: journal.runId, outcome: last?.type ?? 'none' }, 'run ended');
    }
  }

  /** Writes a run's journal from event `after` on as NDJSON, until the run ends or the host leaves. */
  async function stream(res: ServerResponse, journal: RunJournal, after: number): Promise<void> {
    res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
    res.flushHeaders();
    const gone = new AbortController();
    res.on('close', () => {
      if (journal.isEnded) return;
      gone.abort();
      logger.warn({ runId: journal.runId }, 'host disconnected during the run; the run goes on');
    });
    try {
      for await (const entry of journal.follow(after, gone.signal)) {
        if (res.writableEnded || res.destroyed) break;
        res.write(entry.line);
      }
    } catch (err) {
      if (!(err instanceof JournalGap)) throw err;
      // The host reads faster than the bound lets events go; it sees the stream end short.
      logger.error({ runId: journal.runId, err }, 'a follower fell behind the journal');
      res.destroy();
      return;
    }
    res.end();
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
