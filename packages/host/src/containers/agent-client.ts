import { request, type IncomingMessage } from 'node:http';
import { createInterface } from 'node:readline';
import {
  CONTROL_TOKEN_HEADER,
  WorkcellError,
  agentHealthSchema,
  type AgentAnswer,
  parseAgentLine,
  type AgentEvent,
  type AgentHealth,
  type RunRequest,
  readyReleaseSchema,
} from '@workcell/protocol';
import { systemClock, type Clock } from '../time/clock.js';
import type { AgentConnection } from './run-containers.js';

/**
 * Speaks the agent's HTTP/1.1 API over its Unix socket (the host end of
 * `@workcell/protocol`'s agent wire). No network and no exec: the socket is a bind mount.
 */
export class AgentClient implements AgentConnection {
  constructor(
    readonly socketPath: string,
    private readonly clock: Clock = systemClock,
  ) {}

  /** The agent's health; throws `agent_unavailable` when it does not answer in `timeoutMs`. */
  async health(timeoutMs = 2000): Promise<AgentHealth> {
    const res = await this.call('GET', '/health', undefined, timeoutMs);
    const body = await readAll(res);
    if (res.statusCode !== 200) {
      throw new WorkcellError('agent_unavailable', `agent health answered ${res.statusCode ?? 0}`);
    }
    return agentHealthSchema.parse(JSON.parse(body));
  }

  /** Polls `/health` until the agent answers or `timeoutMs` passes. */
  async waitHealthy(timeoutMs: number, intervalMs = 10): Promise<AgentHealth> {
    const deadline = this.clock.now() + timeoutMs;
    let last: unknown;
    while (this.clock.now() < deadline) {
      try {
        return await this.health(Math.min(1000, Math.max(100, deadline - this.clock.now())));
      } catch (err) {
        last = err;
        await this.clock.sleep(intervalMs);
      }
    }
    throw new WorkcellError(
      'agent_unavailable',
      `agent did not become healthy in ${timeoutMs} ms: ${String(last)}`,
    );
  }

  /**
   * Starts a run and yields its events as they arrive. Closing the iterator early (or
   * `signal` aborting) closes the connection, which makes the agent abort the run.
   */
  async *run(body: RunRequest, signal?: AbortSignal): AsyncGenerator<AgentEvent> {
    const res = await this.call('POST', '/runs', body, 10_000, signal);
    if (res.statusCode !== 200) {
      const text = await readAll(res);
      let code: WorkcellError['code'] = 'agent_failed';
      let message = `agent answered ${res.statusCode ?? 0}`;
      try {
        const parsed = JSON.parse(text) as { error?: { code?: string; message?: string } };
        if (parsed.error?.code === 'agent_busy') code = 'agent_busy';
        if (parsed.error?.message) message = parsed.error.message;
      } catch {
        // Not JSON: keep the status message.
      }
      throw new WorkcellError(code, message);
    }
    yield* readEvents(res);
  }

  /** The events of `runId` after the agent's event `after`, then live until the run ends. */
  async *follow(runId: string, after: number, signal?: AbortSignal): AsyncGenerator<AgentEvent> {
    const path = `/runs/${encodeURIComponent(runId)}/events?after=${after}`;
    const res = await this.call('GET', path, undefined, 10_000, signal);
    if (res.statusCode === 404) {
      await readAll(res);
      throw new WorkcellError('container_lost', `the agent has no run ${runId}`);
    }
    if (res.statusCode !== 200) {
      const text = await readAll(res);
      throw new WorkcellError(
        res.statusCode === 410 ? 'events_lost' : 'agent_failed',
        `agent answered ${res.statusCode ?? 0}: ${text.slice(0, 500)}`,
      );
    }
    yield* readEvents(res);
  }

  /** Ends the SDK turn of `runId` outright; false when the agent has no such run. */
  async abort(runId: string): Promise<boolean> {
    const res = await this.call(
      'POST',
      `/runs/${encodeURIComponent(runId)}/abort`,
      undefined,
      5000,
    );
    await readAll(res);
    return res.statusCode === 202;
  }

  /**
   * Asks the agent to close its ready Claude Code process and to start none when its run in
   * progress ends; answers whether one was waiting or starting.
   */
  async releaseReady(timeoutMs = 2000): Promise<boolean> {
    const res = await this.call('POST', '/ready/release', undefined, timeoutMs);
    const body = await readAll(res);
    if (res.statusCode !== 200) {
      throw new WorkcellError(
        'agent_unavailable',
        `agent ready release answered ${res.statusCode ?? 0}`,
      );
    }
    return readyReleaseSchema.parse(JSON.parse(body)).released;
  }

  /** Asks the agent to interrupt `runId`; false when the agent has no such run. */
  async interrupt(runId: string): Promise<boolean> {
    const res = await this.call(
      'POST',
      `/runs/${encodeURIComponent(runId)}/interrupt`,
      undefined,
      5000,
    );
    await readAll(res);
    return res.statusCode === 202;
  }

  /**
   * Delivers an answer to an approval or client tool call of `runId`, with the run's control
   * token: `accepted`, `answered` (it already had one) or `unknown` (no such run or item).
   */
  async answer(
    runId: string,
    itemId: string,
    controlToken: string,
    answer: AgentAnswer,
  ): Promise<'accepted' | 'answered' | 'unknown'> {
    const res = await this.call(
      'POST',
      `/runs/${encodeURIComponent(runId)}/answers/${encodeURIComponent(itemId)}`,
      answer,
      5000,
      undefined,
      { [CONTROL_TOKEN_HEADER]: controlToken },
    );
    await readAll(res);
    if (res.statusCode === 200) return 'accepted';
    if (res.statusCode === 409) return 'answered';
    return 'unknown';
  }

  private call(
    method: string,
    path: string,
    body: unknown,
    timeoutMs: number,
    signal?: AbortSignal,
    extraHeaders: Record<string, string> = {},
  ): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const req = request(
        {
          socketPath: this.socketPath,
          method,
          path,
          headers: {
            ...extraHeaders,
            ...(payload
              ? { 'content-type': 'application/json', 'content-length': payload.length }
              : {}),
          },
          signal,
        },
        (res) => {
          req.setTimeout(0);
          resolve(res);
        },
      );
      req.setTimeout(timeoutMs, () =>
        req.destroy(
          new WorkcellError(
            'agent_unavailable',
            `agent did not answer ${method} ${path} in ${timeoutMs} ms`,
          ),
        ),
      );
      req.on('error', (err) =>
        reject(
          err instanceof WorkcellError
            ? err
            : new WorkcellError('agent_unavailable', `agent socket: ${err.message}`),
        ),
      );
      req.end(payload);
    });
  }
}

/** The NDJSON events of an agent stream, each line's `seq` checked to follow the last. */
async function* readEvents(res: IncomingMessage): AsyncGenerator<AgentEvent> {
  const lines = createInterface({ input: res, crlfDelay: Infinity });
  let last: number | null = null;
  try {
    for await (const line of lines) {
      if (line.trim() === '') continue;
      const { seq, event } = parseAgentLine(line);
      if (last !== null && seq !== last + 1) {
        throw new WorkcellError('agent_failed', `agent event ${seq} came after ${last}`);
      }
      last = seq;
      yield event;
    }
  } finally {
    lines.close();
    res.destroy();
  }
}

function readAll(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    res.setEncoding('utf8');
    res.on('data', (d: string) => (text += d));
    res.on('end', () => resolve(text));
    res.on('error', reject);
  });
}
