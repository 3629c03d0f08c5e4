import {
  WorkcellError,
  terminalClientMessageSchema,
  type TerminalServerMessage,
} from '@workcell/protocol';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { assertTicketWorkspace } from '../../auth/tickets.js';
import type { OpenTerminal } from '../../terminal/terminal-service.js';
import type { ApiServices } from '../context.js';
import { ops } from '../contract.js';
import { parseInput } from '../validate.js';

/** The largest frame a client may send (keystrokes and pastes). */
export const TERMINAL_MAX_FRAME_BYTES = 1024 * 1024;
/** Output waits (the PTY is paused) while this much is queued for a slow client... */
const HIGH_WATER_BYTES = 1024 * 1024;
/** ...until the queue is below this. */
const LOW_WATER_BYTES = 256 * 1024;

const opened = new WeakMap<FastifyRequest, OpenTerminal>();

const sizeOf = (value: string | undefined, fallback: number): number =>
  value === undefined ? fallback : Math.min(1000, Math.max(1, Number(value)));

function send(socket: WebSocket, message: TerminalServerMessage): void {
  if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(message));
}

/**
 * `GET /v1/workspaces/:wid/terminal`: the workspace and the terminal are checked and opened
 * before the upgrade (so a refusal is an ordinary HTTP error), then the socket relays bytes
 * both ways and the JSON control messages of `@workcell/protocol`'s `terminal.ts`.
 */
export function registerTerminalRoutes(app: FastifyInstance, s: ApiServices): void {
  app.route({
    method: 'GET',
    url: ops.openTerminal.path,
    preHandler: async (request) => {
      const params = parseInput(ops.openTerminal.params, request.params, 'path');
      const query = parseInput(ops.openTerminal.query, request.query, 'query');
      assertTicketWorkspace(request.ticket, params.wid);
      const ws = await s.catalog.getWorkspace(request.principal.tenant, params.wid);
      if (!request.ws)
        throw new WorkcellError('bad_request', 'this route answers WebSocket upgrades only');
      const terminal = await s.terminals.open(ws.tenant, ws.id, {
        cols: sizeOf(query.cols, 80),
        rows: sizeOf(query.rows, 24),
      });
      opened.set(request, terminal);
      // However the connection ends (upgrade refused, client gone), the shell ends with it.
      request.raw.socket.once('close', () => void terminal.close('closed'));
    },
    handler: () => {
      throw new WorkcellError('bad_request', 'this route answers WebSocket upgrades only');
    },
    wsHandler: (socket, request) => {
      const terminal = opened.get(request);
      if (!terminal) {
        socket.close(1011, 'no terminal');
        return;
      }
      relay(socket, terminal);
    },
  });
}

function relay(socket: WebSocket, terminal: OpenTerminal): void {
  send(socket, { type: 'ready', containerId: terminal.containerId });
  let paused = false;
  const output = terminal.output;
  output.on('data', (chunk: Buffer) => {
    if (socket.readyState !== socket.OPEN) return;
    socket.send(chunk, { binary: true }, () => {
      if (paused && socket.bufferedAmount < LOW_WATER_BYTES) {
        paused = false;
        output.resume();
      }
    });
    if (!paused && socket.bufferedAmount > HIGH_WATER_BYTES) {
      paused = true;
      output.pause();
    }
  });

  socket.on('message', (data, isBinary) => {
    const bytes = Array.isArray(data)
      ? Buffer.concat(data)
      : Buffer.isBuffer(data)
        ? data
        : Buffer.from(data);
    if (isBinary) {
      terminal.write(bytes);
      return;
    }
    let message;
    try {
      message = terminalClientMessageSchema.parse(JSON.parse(bytes.toString('utf8')));
    } catch {
      send(socket, {
        type: 'error',
        code: 'validation_failed',
        message:
          'a text frame must be {"type":"resize","cols":N,"rows":N} or {"type":"input","data":"..."}',
      });
      return;
    }
    if (message.type === 'input') terminal.write(Buffer.from(message.data, 'utf8'));
    else
      terminal.resize(message.cols, message.rows).catch(() => {
        send(socket, { type: 'error', code: 'bad_request', message: 'resize failed' });
      });
  });

  socket.on('close', () => void terminal.close('closed'));

  void terminal.ended.then(({ exitCode, reason }) => {
    // What the shell wrote last goes out before the exit message.
    const finish = (): void => {
      send(socket, { type: 'exit', exitCode, reason });
      if (socket.readyState === socket.OPEN) socket.close(1000, reason);
    };
    if (output.readableEnded) finish();
    else {
      output.once('end', finish);
      output.once('close', finish);
    }
  });
}
