import { randomBytes } from 'node:crypto';
import { constants } from 'node:os';
import type { Duplex } from 'node:stream';
import type Docker from 'dockerode';
import type { ExecChunk, ExecExitStatus, ExecProcess, ExecSpec } from './runtime.js';

/** The user every command runs as: the container's own (the agent's). */
const EXEC_USER = '1000:1000';

/**
 * Marks every process of one exec: set on the exec, inherited by whatever it starts (a process
 * that leaves the session keeps it), so the exec's end and its kill find them all. Requests
 * cannot set `WORKCELL_*` names.
 */
const MARKER = 'WORKCELL_EXEC_ID';

/** Kills every process but this shell whose environment carries the exec's marker `$1`. */
const KILL_MARKED =
  'for d in /proc/[0-9]*; do p=${d#/proc/}; [ "$p" -eq $$ ] && continue; ' +
  `grep -qxz "${MARKER}=$1" "$d/environ" 2>/dev/null && kill -KILL "$p" 2>/dev/null; done`;

/**
 * Runs the command in the session the engine gives an exec (its first process leads a new
 * session), records the session id in a file `$0` (for `kill`), waits for the command, then
 * kills whatever else is left (a background child: by session, and by marker for one that left
 * the session) so the output pipes close and nothing it started outlives it. `env --` makes
 * the first argument always a program, never a shell builtin. The exit status is the
 * command's (128+n when a signal ended it). `$1` is the marker's value.
 */
const SESSION_WRAPPER = [
  'printf %s "$$" > "$0" || exit 125',
  'id=$1',
  'shift',
  'env -- "$@"',
  'rc=$?',
  'for p in $(ps -o pid= -s $$); do [ "$p" -eq $$ ] || kill -KILL "$p" 2>/dev/null; done',
  KILL_MARKED.replaceAll('$1', '$id'),
  'rm -f "$0"',
  'exit $rc',
].join('; ');

/**
 * Kills every process of the session named in the file `$0` and every process carrying the
 * marker `$1`, then removes the file.
 */
const KILL_SESSION = [
  'sid=$(cat "$0" 2>/dev/null) && [ -n "$sid" ] && pkill -KILL -s "$sid"',
  KILL_MARKED,
  'rm -f "$0"',
  'exit 0',
].join('; ');

/** Docker's stream-multiplexing header: 1 byte stream type, 3 zero bytes, 4 bytes length (BE). */
const HEADER_BYTES = 8;

/**
 * Splits Docker's multiplexed exec stream (no TTY) into stdout and stderr chunks, as they come.
 * Consuming it with `for await` reads the socket only as fast as the caller takes chunks.
 */
export async function* demuxDockerStream(
  stream: AsyncIterable<Buffer | string>,
): AsyncGenerator<ExecChunk> {
  let pending: Buffer = Buffer.alloc(0);
  for await (const piece of stream) {
    const bytes = typeof piece === 'string' ? Buffer.from(piece) : piece;
    pending = pending.length === 0 ? bytes : Buffer.concat([pending, bytes]);
    while (pending.length >= HEADER_BYTES) {
      const size = pending.readUInt32BE(4);
      if (pending.length < HEADER_BYTES + size) break;
      const type = pending[0];
      const data = pending.subarray(HEADER_BYTES, HEADER_BYTES + size);
      pending = pending.subarray(HEADER_BYTES + size);
      // Type 1 is stdout, 2 stderr; 0 (stdin echo) does not occur without a TTY.
      if (size > 0 && (type === 1 || type === 2))
        yield { stream: type === 1 ? 'stdout' : 'stderr', data };
    }
  }
}

/** An exit status as a code or a signal: 128+n is read as signal n (the shell's convention). */
export function exitStatusOf(status: number | null): ExecExitStatus {
  if (status === null) return { code: null, signal: null };
  if (status > 128 && status < 128 + 32) {
    const n = status - 128;
    const name = Object.entries(constants.signals).find(([, value]) => value === n)?.[0];
    if (name) return { code: null, signal: name };
  }
  return { code: status, signal: null };
}

/** Runs an exec to its end, discarding its output; answers its exit status. */
async function runQuietly(container: Docker.Container, cmd: string[]): Promise<number | null> {
  const exec = await container.exec({
    Cmd: cmd,
    User: EXEC_USER,
    AttachStdout: true,
    AttachStderr: true,
  });
  const stream = await exec.start({ hijack: true, stdin: false });
  for await (const _ of stream as AsyncIterable<unknown>) {
    // Drained only so the exec can end.
  }
  return (await exec.inspect()).ExitCode;
}

/** Starts `spec` in the container through the engine's exec API. */
export async function startDockerExec(
  container: Docker.Container,
  spec: ExecSpec,
): Promise<ExecProcess> {
  const token = randomBytes(8).toString('hex');
  const pidFile = `/tmp/.workcell-exec-${token}`;
  const exec = await container.exec({
    Cmd: ['/bin/sh', '-c', SESSION_WRAPPER, pidFile, token, ...spec.argv],
    User: EXEC_USER,
    WorkingDir: spec.cwd,
    Env: [...Object.entries(spec.env).map(([k, v]) => `${k}=${v}`), `${MARKER}=${token}`],
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    Tty: false,
  });
  const stream: Duplex = await exec.start({ hijack: true, stdin: true });
  // Input goes in whole and stdin is closed (half-close: the output keeps flowing).
  if (spec.stdin && spec.stdin.length > 0) stream.write(spec.stdin);
  stream.end();
  let consumed = false;
  return {
    get output(): AsyncIterable<ExecChunk> {
      if (consumed) throw new Error('an exec output is read once');
      consumed = true;
      return demuxDockerStream(stream as AsyncIterable<Buffer>);
    },
    async wait(): Promise<ExecExitStatus> {
      // The engine records the exit status as the process ends, a moment after its pipes close.
      for (let attempt = 0; attempt < 50; attempt += 1) {
        const info = await exec.inspect();
        if (!info.Running) return exitStatusOf(info.ExitCode);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return { code: null, signal: null };
    },
    async kill(): Promise<void> {
      await runQuietly(container, ['/bin/sh', '-c', KILL_SESSION, pidFile, token]);
    },
  };
}
