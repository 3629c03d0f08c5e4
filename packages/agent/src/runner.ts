import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { query, type Query, type SDKMessage } from '@anthropic-ai/claude-agent-sdk';
import {
  WorkcellError,
  type AgentAnswer,
  type AgentEvent,
  type ReadyFallbackReason,
  type RunRequest,
  type RunSummary,
} from '@workcell/protocol';
import type { Logger } from 'pino';
import { RunGate, type AnswerOutcome } from './gate.js';
import { promptOf, sdkOptions, type GateSource } from './sdk-options.js';
import type { ReadyAgents } from './ready.js';
import type { AgentSettings } from './sdk-env.js';

/** Keeps the last `limit` characters of the CLI's stderr for error messages. */
class TailBuffer {
  private text = '';
  constructor(private readonly limit: number) {}
  push(chunk: string): void {
    this.text = (this.text + chunk).slice(-this.limit);
  }
  toString(): string {
    return this.text.trim();
  }
}

/** Which process a run's turn went to, and why not the ready one. */
interface ReadyNote {
  readyNote: { used: boolean; reason?: ReadyFallbackReason };
}

interface ActiveRun {
  runId: string;
  abort: AbortController;
  query: Query | null;
  interrupted: boolean;
  /** The run's pending approvals and client tool calls. */
  gate: RunGate;
}

/**
 * Runs one Claude Agent SDK turn at a time and turns its messages into protocol events, with
 * the run's settings as the host resolved them (`sdk-options.ts`). A turn goes to the ready
 * process when it fits (`ready.ts`); after a completed turn one is started for the next turn
 * of the same session.
 */
export class AgentRunner implements GateSource {
  private active: ActiveRun | null = null;

  constructor(
    private readonly settings: AgentSettings,
    private readonly logger: Logger,
    private readonly ready: ReadyAgents,
  ) {}

  get currentRunId(): string | null {
    return this.active?.runId ?? null;
  }

  /** The gate of the run in progress (the SDK's callbacks ask it). */
  current(): RunGate | null {
    return this.active?.gate ?? null;
  }

  /**
   * Delivers the host's answer to an approval or client tool call of `runId`. Without the
   * run's control token the run is not found: nothing in the container can answer for the host.
   */
  answer(
    runId: string,
    itemId: string,
    token: string | undefined,
    answer: AgentAnswer,
  ): AnswerOutcome {
    const run = this.active;
    if (!run || run.runId !== runId || !run.gate.authorises(token)) return 'unknown';
    return run.gate.answer(itemId, answer);
  }

  /** Claims the runner for `request`; a second concurrent run is refused with `agent_busy`. */
  begin(request: RunRequest): ActiveRun {
    if (this.active) {
      throw new WorkcellError('agent_busy', `run ${this.active.runId} is in progress`);
    }
    const run: ActiveRun = {
      runId: request.runId,
      abort: new AbortController(),
      query: null,
      interrupted: false,
      gate: new RunGate(request.controlToken ?? null),
    };
    this.active = run;
    return run;
  }

  /** Interrupts the SDK turn of `runId`; false when that run is not in progress. */
  async interrupt(runId: string): Promise<boolean> {
    const run = this.active;
    if (!run || run.runId !== runId) return false;
    run.interrupted = true;
    run.gate.interruptAll();
    try {
      await run.query?.interrupt();
    } catch (err) {
      this.logger.warn({ runId, err }, 'interrupt failed; aborting the CLI process');
      run.abort.abort();
    }
    return true;
  }

  /** Aborts the run outright (a host whose interrupt was not honoured in time); false when `runId` is not in progress. */
  abortRun(runId: string): boolean {
    const run = this.active;
    if (!run || run.runId !== runId) return false;
    run.interrupted = true;
    run.gate.interruptAll();
    run.abort.abort();
    return true;
  }

  /** The run's events, ending with exactly one `run.completed` or `run.failed`. */
  async *events(run: ActiveRun, request: RunRequest): AsyncGenerator<AgentEvent> {
    const started = Date.now();
    const stderr = new TailBuffer(4000);
    let sessionId: string | null = null;
    let finished = false;
    /** The session whose next turn a ready process is started for once the run is over. */
    let nextTurn: string | null = null;
    try {
      yield { type: 'run.started', runId: run.runId };
      if (
        request.resumeSessionId &&
        !existsSync(transcriptPath(this.settings, request.resumeSessionId))
      ) {
        // The CLI given an unknown session may start an empty one under the same id.
        finished = true;
        yield {
          type: 'run.failed',
          error: {
            code: 'session_lost',
            message: `session ${request.resumeSessionId} has no transcript in this container`,
          },
        };
        return;
      }
      for await (const item of withGateEvents(run.gate, this.sdkMessages(run, request, stderr))) {
        if ('gateEvent' in item) {
          yield item.gateEvent;
          continue;
        }
        if ('readyNote' in item) {
          yield { type: 'ready', ...item.readyNote };
          continue;
        }
        const message = item;
        if (isInit(message)) {
          sessionId = message.session_id;
          if (request.resumeSessionId && sessionId !== request.resumeSessionId) {
            run.abort.abort();
            finished = true;
            yield {
              type: 'run.failed',
              error: {
                code: 'session_lost',
                message: `session ${request.resumeSessionId} could not be resumed (the CLI started ${sessionId})`,
              },
            };
            return;
          }
        }
        yield { type: 'sdk', message: toRecord(message) };
        if (message.type === 'result') {
          finished = true;
          nextTurn = message.session_id;
          yield { type: 'run.completed', summary: summarise(message, run.interrupted, started) };
          return;
        }
      }
      finished = true;
      if (run.interrupted) {
        yield { type: 'run.completed', summary: interruptedSummary(sessionId, started) };
      } else {
        yield {
          type: 'run.failed',
          error: {
            code: 'sdk_error',
            message: withStderr('the SDK ended without a result', stderr),
          },
        };
      }
    } catch (err) {
      if (finished) return;
      finished = true;
      if (run.interrupted) {
        yield { type: 'run.completed', summary: interruptedSummary(sessionId, started) };
        return;
      }
      const message = err instanceof Error ? err.message : String(err);
      const lost =
        request.resumeSessionId &&
        sessionId === null &&
        /session|conversation/i.test(message + stderr.toString());
      yield {
        type: 'run.failed',
        error: lost
          ? {
              code: 'session_lost',
              message: withStderr(
                `session ${request.resumeSessionId} could not be resumed: ${message}`,
                stderr,
              ),
            }
          : { code: 'sdk_error', message: withStderr(message, stderr) },
      };
    } finally {
      run.gate.close();
      run.query?.close();
      if (this.active === run) this.active = null;
      if (nextTurn) this.ready.prepareNextTurn(request, nextTurn);
    }
  }

  /**
   * The run's SDK messages, from the ready process when it fits the run (`ReadyAgents.take`),
   * else from a fresh `query()`. A ready process that fails before its first message is
   * replaced by a fresh one: nothing of the prompt ran. Before the first message comes a note
   * of which it was, and why not the ready one.
   */
  private async *sdkMessages(
    run: ActiveRun,
    request: RunRequest,
    stderr: TailBuffer,
  ): AsyncGenerator<SDKMessage | ReadyNote> {
    const taken = await this.ready.take(request);
    let reason = taken.reason;
    if (taken.process) {
      const { warm, abort, stderr: sink } = taken.process;
      sink.write = (data) => stderr.push(data);
      if (run.abort.signal.aborted) abort.abort();
      else run.abort.signal.addEventListener('abort', () => abort.abort(), { once: true });
      let q: Query | null = null;
      let answered = false;
      try {
        q = warm.query(promptOf(request));
        this.attachQuery(run, q);
        for await (const message of q) {
          // A process that died while it waited answers with an error result and nothing else.
          if (!answered && message.type === 'result' && message.is_error) {
            this.logger.warn(
              { runId: run.runId, result: message },
              'ready process answered an error',
            );
            break;
          }
          if (!answered) {
            answered = true;
            yield { readyNote: { used: true } };
          }
          yield message;
        }
      } catch (err) {
        if (answered || run.interrupted) throw err;
        this.logger.warn({ runId: run.runId, err }, 'ready process failed; starting a fresh one');
      }
      if (answered || run.interrupted) return;
      q?.close();
      reason = 'process_failed';
    }
    yield { readyNote: { used: false, ...(reason ? { reason } : {}) } };
    // Interrupted before the SDK turn began: it does not begin (the run ends interrupted).
    if (run.interrupted) return;
    const q = query({
      prompt: promptOf(request),
      options: sdkOptions(
        this.settings,
        request,
        { abortController: run.abort, stderr: (data) => stderr.push(data) },
        this,
      ),
    });
    this.attachQuery(run, q);
    yield* q;
  }

  /**
   * Records the run's SDK query. An interrupt that arrived while the query did not exist yet
   * (between `run.started` and the SDK turn) is delivered to it now, so it is never lost.
   */
  private attachQuery(run: ActiveRun, q: Query): void {
    run.query = q;
    if (!run.interrupted) return;
    q.interrupt().catch((err: unknown) => {
      this.logger.warn({ runId: run.runId, err }, 'interrupt failed; aborting the CLI process');
      run.abort.abort();
    });
  }
}

/**
 * The SDK's messages with the gate's events put between them as they happen: a call waiting
 * for the client is announced while the SDK's stream is quiet.
 */
async function* withGateEvents<T>(
  gate: RunGate,
  source: AsyncGenerator<T>,
): AsyncGenerator<T | { gateEvent: GateEventOf<RunGate> }> {
  let next = source.next();
  // A rejection is read by the race below; this keeps it from counting as unhandled meanwhile.
  next.catch(() => undefined);
  try {
    for (;;) {
      const first = await Promise.race([
        next.then((result) => ({ result })),
        gate.whenEvent().then(() => null),
      ]);
      for (const gateEvent of gate.drain()) yield { gateEvent };
      if (first === null) continue;
      if (first.result.done) return;
      yield first.result.value;
      next = source.next();
      next.catch(() => undefined);
    }
  } finally {
    await source.return(undefined);
  }
}

type GateEventOf<G extends RunGate> = ReturnType<G['drain']>[number];

/**
 * Where the CLI keeps a session's transcript: `projects/<cwd with every character outside
 * [A-Za-z0-9] replaced by '-'>/<session id>.jsonl` under CLAUDE_CONFIG_DIR.
 */
export function transcriptPath(settings: AgentSettings, sessionId: string): string {
  const project = settings.workspaceDir.replace(/[^A-Za-z0-9]/g, '-');
  return join(
    settings.claudeConfigDir,
    'projects',
    project,
    `${sessionId.replace(/[^A-Za-z0-9-]/g, '')}.jsonl`,
  );
}

function isInit(
  message: SDKMessage,
): message is Extract<SDKMessage, { type: 'system'; subtype: 'init' }> {
  return message.type === 'system' && message.subtype === 'init';
}

function toRecord(message: SDKMessage): Record<string, unknown> {
  return message as unknown as Record<string, unknown>;
}

function withStderr(message: string, stderr: TailBuffer): string {
  const tail = stderr.toString();
  return tail ? `${message}; stderr: ${tail.slice(-1000)}` : message;
}

function summarise(
  message: Extract<SDKMessage, { type: 'result' }>,
  interrupted: boolean,
  started: number,
): RunSummary {
  return {
    sessionId: message.session_id,
    subtype: message.subtype,
    isError: message.is_error,
    interrupted,
    durationMs: message.duration_ms ?? Date.now() - started,
    numTurns: message.num_turns,
    totalCostUsd: message.total_cost_usd ?? null,
    usage: (message.usage as unknown as Record<string, unknown>) ?? null,
    modelUsage: (message.modelUsage as unknown as Record<string, Record<string, unknown>>) ?? null,
    result: message.subtype === 'success' ? message.result : null,
  };
}

function interruptedSummary(sessionId: string | null, started: number): RunSummary {
  return {
    sessionId,
    subtype: 'interrupted',
    isError: false,
    interrupted: true,
    durationMs: Date.now() - started,
    numTurns: 0,
    totalCostUsd: null,
    usage: null,
    result: null,
  };
}
