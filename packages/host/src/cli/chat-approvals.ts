import { spawn } from 'node:child_process';
import type { ToolResultBody } from '@workcell/client';

const MAX_DETAIL = 200;
const MAX_RESULT_BYTES = 1_000_000;

/** The question `workcell chat` asks before a tool call runs: `Allow Bash: npm test? [y/N] `. */
export function approvalQuestion(toolName: string, input: Record<string, unknown>): string {
  const main = input.command ?? input.file_path ?? input.url ?? input.path ?? input.pattern;
  const raw = typeof main === 'string' ? main : JSON.stringify(input);
  const flat = raw.replace(/\s+/g, ' ').trim();
  const detail = flat.length > MAX_DETAIL ? `${flat.slice(0, MAX_DETAIL - 1)}…` : flat;
  return `Allow ${toolName}: ${detail}? [y/N] `;
}

/** Whether an answer to the question allows the call: `y` or `yes`, any case. */
export function isYes(answer: string): boolean {
  return /^\s*y(es)?\s*$/i.test(answer);
}

/**
 * Answers a client tool call by running `command` through the shell with the call as JSON
 * (`{"name": ..., "input": {...}}`) on its stdin: its stdout is the result, a non-zero exit an
 * error result (with stderr when stdout is empty).
 */
export function runToolCommand(
  command: string,
  call: { name: string; input: Record<string, unknown> },
): Promise<ToolResultBody> {
  return new Promise((resolve) => {
    const child = spawn(command, { shell: true, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let size = 0;
    const keep = (into: Buffer[]) => (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_RESULT_BYTES) into.push(chunk);
    };
    child.stdout.on('data', keep(out));
    child.stderr.on('data', keep(err));
    child.on('error', (e) =>
      resolve({ content: `cannot run the tool command: ${e.message}`, isError: true }),
    );
    child.on('close', (code) => {
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      const failed = code !== 0;
      const text = failed && stdout.trim() === '' ? stderr : stdout;
      resolve({
        content:
          text === ''
            ? failed
              ? `the tool command exited ${code ?? 'on a signal'}`
              : '(no output)'
            : text,
        ...(failed ? { isError: true } : {}),
      });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(JSON.stringify(call));
  });
}
