import type { TerminalServerMessage } from '@workcell/protocol';
import WebSocket from 'ws';

/** A terminal WebSocket as a test drives it: what the shell printed, and its control messages. */
export interface TestTerminal {
  readonly socket: WebSocket;
  /** Everything the PTY wrote so far. */
  output(): string;
  /** The control messages received so far. */
  readonly messages: TerminalServerMessage[];
  /** Sends keystrokes (a binary frame). */
  type(text: string): void;
  /** Sends a JSON control message (a text frame). */
  control(message: unknown): void;
  /** Resolves when the output (after `from`, its offset) matches `pattern`; rejects on timeout. */
  waitFor(pattern: RegExp, timeoutMs?: number, from?: number): Promise<RegExpExecArray>;
  /** Runs a command and answers the text between two markers it prints. */
  run(command: string, timeoutMs?: number): Promise<string>;
  /** Resolves with the `exit` message and the close code. */
  readonly closed: Promise<{
    exit: Extract<TerminalServerMessage, { type: 'exit' }> | null;
    code: number;
  }>;
  close(): void;
}

/** Opens a terminal; rejects with `{status, body}` when the server refuses the upgrade. */
export function openTerminal(
  baseUrl: string,
  workspaceId: string,
  auth: { token?: string | null; queryToken?: string; query?: string } = {},
): Promise<TestTerminal> {
  const params = new URLSearchParams(auth.query ?? '');
  if (auth.queryToken !== undefined) params.set('access_token', auth.queryToken);
  const qs = params.toString();
  const url = `${baseUrl.replace(/^http/, 'ws')}/v1/workspaces/${workspaceId}/terminal${qs ? `?${qs}` : ''}`;
  const headers: Record<string, string> = auth.token
    ? { authorization: `Bearer ${auth.token}` }
    : {};
  const socket = new WebSocket(url, { headers });
  let text = '';
  const messages: TerminalServerMessage[] = [];
  const listeners = new Set<() => void>();
  let markers = 0;
  socket.on('message', (data, isBinary) => {
    const buf = Buffer.isBuffer(data)
      ? data
      : Array.isArray(data)
        ? Buffer.concat(data)
        : Buffer.from(data);
    if (isBinary) text += buf.toString('utf8');
    else messages.push(JSON.parse(buf.toString('utf8')) as TerminalServerMessage);
    for (const l of listeners) l();
  });
  const closed = new Promise<{
    exit: Extract<TerminalServerMessage, { type: 'exit' }> | null;
    code: number;
  }>((resolve) => {
    socket.on('close', (code) => {
      const exit = messages.find((m) => m.type === 'exit') ?? null;
      resolve({ exit: exit as Extract<TerminalServerMessage, { type: 'exit' }> | null, code });
    });
  });
  const terminal: TestTerminal = {
    socket,
    output: () => text,
    messages,
    type: (s) => socket.send(Buffer.from(s, 'utf8'), { binary: true }),
    control: (m) => socket.send(JSON.stringify(m)),
    waitFor: (pattern, timeoutMs = 20_000, from = 0) =>
      new Promise((resolve, reject) => {
        const check = (): boolean => {
          const m = pattern.exec(text.slice(from));
          if (!m) return false;
          listeners.delete(check);
          clearTimeout(timer);
          resolve(m);
          return true;
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`terminal output never matched ${pattern}; it was:\n${text}`));
        }, timeoutMs);
        listeners.add(check);
        check();
      }),
    async run(command, timeoutMs) {
      markers += 1;
      const tag = `M${markers}X${Math.random().toString(36).slice(2, 8)}`;
      const from = text.length;
      // The markers are built by printf so the echoed command line never matches them.
      terminal.type(`printf '%s_B\\n' ${tag}; ${command}; printf '%s_E\\n' ${tag}\r`);
      const m = await terminal.waitFor(
        new RegExp(`${tag}_B\\r?\\n([\\s\\S]*?)${tag}_E`),
        timeoutMs,
        from,
      );
      return (m[1] ?? '').replace(/\r/g, '').trim();
    },
    closed,
    close: () => socket.close(),
  };
  return new Promise((resolve, reject) => {
    socket.once('open', () => resolve(terminal));
    socket.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () =>
        reject(
          Object.assign(new Error(`refused ${res.statusCode}`), { status: res.statusCode, body }),
        ),
      );
    });
    socket.once('error', (err) => reject(err));
  });
}
