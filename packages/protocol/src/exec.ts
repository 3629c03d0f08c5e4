import { z } from 'zod';
import { checkEnvNames } from './agent-options.js';
import { CONTAINER_PATHS } from './agent-wire.js';

/**
 * `POST /v1/workspaces/:wid/exec`: a command run in the workspace's container, as the agent's
 * tools run (uid 1000, the agent's environment, no network but the proxy). The JSON answer is
 * `execResultSchema`; the streamed answer is SSE `stdout` / `stderr` (`execChunkSchema`) and one
 * `exit` (`execExitSchema`).
 */

export const EXEC_LIMITS = {
  /** Arguments in `command`. */
  maxArgs: 4096,
  /** The bytes of `command`, all arguments together (UTF-8). */
  maxCommandBytes: 256 * 1024,
  /** Variables in `env`. */
  maxEnv: 100,
  /** One `env` value, characters. */
  maxEnvValueChars: 32_768,
  /** `stdin`, characters. */
  maxStdinChars: 1024 * 1024,
  /** `cwd`, characters. */
  maxCwdChars: 4096,
} as const;

const NUL = /\u0000/;

/**
 * The absolute path a `cwd` names inside the workspace (relative paths are taken under
 * `/workspace`), or null when it leaves the workspace. Lexical: `.` and `..` are resolved
 * before the check, so `/workspace/../etc` is refused.
 */
export function workspaceCwd(cwd: string): string | null {
  const root = CONTAINER_PATHS.workspace;
  const absolute = cwd.startsWith('/') ? cwd : `${root}/${cwd}`;
  const parts: string[] = [];
  for (const part of absolute.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (parts.length === 0) return null;
      parts.pop();
    } else parts.push(part);
  }
  const resolved = `/${parts.join('/')}`;
  return resolved === root || resolved.startsWith(`${root}/`) ? resolved : null;
}

const commandSchema = z
  .array(z.string().refine((arg) => !NUL.test(arg), 'an argument cannot contain a NUL character'))
  .min(1, 'give the program and its arguments')
  .max(EXEC_LIMITS.maxArgs, `at most ${EXEC_LIMITS.maxArgs} arguments`)
  .refine((argv) => (argv[0] ?? '') !== '', 'the program (the first element) cannot be empty')
  .refine(
    (argv) => argv.reduce((n, arg) => n + Buffer.byteLength(arg), 0) <= EXEC_LIMITS.maxCommandBytes,
    `the arguments together are over ${EXEC_LIMITS.maxCommandBytes} bytes`,
  )
  .describe('the program and its arguments (argv); no shell is involved unless you run one');

const execEnvSchema = z
  .record(
    z.string(),
    z
      .string()
      .max(EXEC_LIMITS.maxEnvValueChars)
      .refine((v) => !NUL.test(v), 'a value cannot contain a NUL character'),
  )
  .superRefine(checkEnvNames(EXEC_LIMITS.maxEnv))
  .describe(
    "variables added to the command's environment (the agent's); names that could route around the proxy or reach credentials (`*_PROXY`, `ANTHROPIC_*`, `AWS_*`, `CLAUDE_*`, `WORKCELL_*`, `NODE_*`, `LD_*`, `SSL_CERT_FILE`, ...) are refused with `env_not_allowed`",
  );

const cwdSchema = z
  .string()
  .min(1)
  .max(EXEC_LIMITS.maxCwdChars)
  .superRefine((cwd, ctx) => {
    if (NUL.test(cwd) || workspaceCwd(cwd) === null)
      ctx.addIssue({
        code: 'custom',
        message: 'cwd must name a directory inside /workspace',
        params: { errorCode: 'invalid_path' },
      });
  })
  .describe(
    'the working directory: `/workspace` or a folder in it, absolute or relative to `/workspace` (default `/workspace`); anything that leaves it is refused with `invalid_path`',
  );

export const execBody = z.strictObject({
  command: commandSchema,
  cwd: cwdSchema.optional(),
  env: execEnvSchema.optional(),
  timeoutMs: z
    .int()
    .min(1)
    .optional()
    .describe(
      'kill the command (and every process it started) after this long; at most, and by default, `WORKCELL_EXEC_TIMEOUT_MS`',
    ),
  stdin: z
    .string()
    .max(EXEC_LIMITS.maxStdinChars)
    .optional()
    .describe(
      "text written to the command's standard input, which is then closed (default: empty)",
    ),
});

const exitFields = {
  signal: z
    .string()
    .nullable()
    .describe(
      'the signal that ended the command (`SIGKILL` after a timeout), as the exit status 128+n reports it; null when it exited',
    ),
  durationMs: z.number().describe('from the start of the command to its end'),
  timedOut: z.boolean().describe('the timeout killed it'),
  error: z
    .object({ code: z.string(), message: z.string() })
    .optional()
    .describe(
      'set when something failed after the command: `sync_failed` (its changes are not saved yet: the container keeps them and the next run or exec saves them) or `container_failed` (its output broke off)',
    ),
};

export const execResultSchema = z.object({
  exitCode: z.int().nullable().describe('the exit status; null when a signal ended it'),
  ...exitFields,
  stdout: z.string().describe('standard output, UTF-8, up to `WORKCELL_EXEC_MAX_OUTPUT_BYTES`'),
  stderr: z.string().describe('standard error, UTF-8, up to `WORKCELL_EXEC_MAX_OUTPUT_BYTES`'),
  truncated: z.boolean().describe('stdout or stderr was longer than the cap and was cut'),
});

/** The data of a streamed `stdout` or `stderr` event. */
export const execChunkSchema = z.object({ data: z.string().describe('UTF-8 text') });

/** The data of the streamed `exit` event (the last one). */
export const execExitSchema = z.object({
  code: z.int().nullable().describe('the exit status; null when a signal ended it'),
  ...exitFields,
});

export type ExecInput = z.input<typeof execBody>;
export type ExecRequest = z.output<typeof execBody>;
export type ExecResult = z.output<typeof execResultSchema>;
export type ExecExit = z.output<typeof execExitSchema>;
/** One streamed exec event, as the client yields it. */
export type ExecEvent =
  | { event: 'stdout' | 'stderr'; data: z.output<typeof execChunkSchema> }
  | { event: 'exit'; data: ExecExit };
