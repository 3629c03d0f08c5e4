import { z } from 'zod';

/**
 * The terminal WebSocket (`GET /v1/workspaces/:wid/terminal`). Binary frames carry raw bytes
 * both ways: keystrokes to the PTY, the PTY's output back. Text frames carry one JSON control
 * message each.
 */

const size = {
  cols: z.number().int().min(1).max(1000),
  rows: z.number().int().min(1).max(1000),
};

/** What a client sends as a text frame. */
export const terminalClientMessageSchema = z.discriminatedUnion('type', [
  /** Keystrokes as text (UTF-8), for clients that only send text frames. */
  z.object({ type: z.literal('input'), data: z.string().max(1_048_576) }),
  /** The terminal's new size; the shell sees SIGWINCH (`stty size` answers `rows cols`). */
  z.object({ type: z.literal('resize'), ...size }),
]);
export type TerminalClientMessage = z.infer<typeof terminalClientMessageSchema>;

/** Why a terminal ended. */
export const TERMINAL_END_REASONS = ['exited', 'idle', 'shutdown', 'closed'] as const;
export type TerminalEndReason = (typeof TERMINAL_END_REASONS)[number];

/** What the server sends as a text frame. */
export type TerminalServerMessage =
  /** The shell started in this container. */
  | { type: 'ready'; containerId: string }
  /** The shell ended (`exitCode` when known); the server then closes the socket (1000). */
  | { type: 'exit'; exitCode: number | null; reason: TerminalEndReason }
  /** A control message was refused (`validation_failed`); the terminal stays open. */
  | { type: 'error'; code: string; message: string };

/** The query of the terminal route: the first size, and the credential for browsers. */
export const terminalQuery = z.object({
  cols: z
    .string()
    .regex(/^\d{1,4}$/)
    .optional()
    .describe('the first width in columns (default 80)'),
  rows: z
    .string()
    .regex(/^\d{1,4}$/)
    .optional()
    .describe('the first height in rows (default 24)'),
  ticket: z
    .string()
    .optional()
    .describe(
      'a single-use ticket (`POST /v1/tickets`, purpose `terminal`): how browsers authenticate the WebSocket',
    ),
  access_token: z
    .string()
    .optional()
    .describe(
      'the API token itself; kept for older clients, but it puts a long-lived credential in a URL: use `ticket`',
    ),
});
