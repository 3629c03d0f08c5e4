import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { docker, type TestHost } from '../support/host.js';

/** Every OCI runtime a workspace container can run under; the attack suite runs under each. */
export const RUNTIMES = ['runc', 'runsc'] as const;
export type RuntimeName = (typeof RUNTIMES)[number];

/** The workspace image the host under test uses. */
export const WORKSPACE_IMAGE = process.env.WORKCELL_IMAGE ?? 'workcell/workspace:0.1.0';

export interface ExecResult {
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/**
 * Runs `script` with `sh -c` inside a container through `docker exec`, as the container's own
 * user (uid 1000 for workspace containers). `stdin` is written to the script's standard input,
 * `fd3` to its file descriptor 3: secrets travel that way, never in an argument. The exec is
 * killed after `timeoutMs` (under gVisor, an exec into a sandbox that dies never returns).
 */
export function execIn(
  containerId: string,
  script: string,
  options: { stdin?: string; timeoutMs?: number; user?: string } = {},
): Promise<ExecResult> {
  const args = [
    'exec',
    '-i',
    ...(options.user ? ['-u', options.user] : []),
    containerId,
    'sh',
    '-c',
    script,
  ];
  return run('docker', args, options);
}

/** Runs a host command with optional stdin and a hard timeout. */
export function run(
  cmd: string,
  args: string[],
  options: {
    stdin?: string;
    fd3?: string;
    timeoutMs?: number;
    env?: NodeJS.ProcessEnv;
    cwd?: string;
  } = {},
): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      stdio: ['pipe', 'pipe', 'pipe', ...(options.fd3 !== undefined ? (['pipe'] as const) : [])],
      env: options.env ?? process.env,
      cwd: options.cwd,
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs ?? 30_000);
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, timedOut });
    });
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(options.stdin ?? '');
    if (options.fd3 !== undefined) {
      const fd3 = child.stdio[3] as NodeJS.WritableStream;
      fd3.on('error', () => undefined);
      fd3.end(options.fd3);
    }
  });
}

/** A random value that looks like a credential of `kind`, unique to this run. */
export function fakeSecret(kind: string): string {
  return `${kind}${randomBytes(18).toString('base64url')}`;
}

/** A Claude Agent SDK Bash tool call, as a mock-model directive. */
export function bash(command: string): string {
  return `MOCK:${JSON.stringify({ tool: 'Bash', input: { command } })}`;
}

/** Sends `content` and asserts the run completed. */
export async function runCompletes(
  host: TestHost,
  conversationId: string,
  content: string,
): Promise<void> {
  const events = await host.send(conversationId, content);
  const last = events.at(-1);
  expect(last?.event, `run ended with ${last?.event}: ${JSON.stringify(last?.data)}`).toBe(
    'run.completed',
  );
}

/** The Docker id of the workspace's container (after at least one run). */
export async function containerOf(host: TestHost, workspaceId: string): Promise<string> {
  const ws = await host.wc.workspaces.get(workspaceId);
  const id = ws.container?.id;
  if (!id) throw new Error(`workspace ${workspaceId} has no container`);
  return id;
}

/** A workspace with a conversation and a running container (one run made it). */
export async function workspaceWithContainer(
  host: TestHost,
  files: Record<string, string> = {},
): Promise<{ workspaceId: string; conversationId: string; containerId: string }> {
  const { workspaceId, conversationId } = await host.conversation();
  for (const [path, content] of Object.entries(files)) {
    await host.wc.files.upload(workspaceId, path, content);
  }
  await runCompletes(host, conversationId, 'MOCK:{"text": "ready"}');
  return { workspaceId, conversationId, containerId: await containerOf(host, workspaceId) };
}

/**
 * A deliberately unhardened container of the same image (root or the given user, Docker's
 * default capabilities, no no-new-privileges, the default bridge network): the control that
 * proves a probe can detect what it looks for.
 */
export async function unhardenedContainer(
  options: { user?: string; envFile?: string; network?: string } = {},
): Promise<string> {
  const args = [
    'run',
    '-d',
    '--label',
    'workcell.test=unhardened',
    '--network',
    options.network ?? 'bridge',
    ...(options.user ? ['--user', options.user] : []),
    ...(options.envFile ? ['--env-file', options.envFile] : []),
    '--entrypoint',
    'sleep',
    WORKSPACE_IMAGE,
    '600',
  ];
  return (await docker(...args)).trim();
}

export async function removeContainer(id: string | undefined): Promise<void> {
  if (id) await docker('rm', '-f', id).catch(() => '');
}

/** The container's host-side cgroup (v1, cgroupfs driver) file, or null when absent. */
export function cgroupFile(
  containerId: string,
  controller: 'cpu' | 'cpuacct' | 'memory' | 'pids',
  file: string,
): string | null {
  try {
    return readFileSync(`/sys/fs/cgroup/${controller}/docker/${containerId}/${file}`, 'utf8');
  } catch {
    return null;
  }
}

/** `docker inspect` of a container, or null when it is gone. */
export async function inspect(containerId: string): Promise<{
  State: { Running: boolean; OOMKilled: boolean; ExitCode: number };
  HostConfig: Record<string, unknown>;
  Mounts: { Type: string; Source: string; Destination: string }[];
} | null> {
  try {
    const [info] = JSON.parse(await docker('inspect', containerId)) as [
      {
        State: { Running: boolean; OOMKilled: boolean; ExitCode: number };
        HostConfig: Record<string, unknown>;
        Mounts: { Type: string; Source: string; Destination: string }[];
      },
    ];
    return info;
  } catch {
    return null;
  }
}

/** The host's health endpoint answers `ok` within `withinMs`. */
export async function hostAnswers(host: TestHost, withinMs = 3_000): Promise<void> {
  const started = Date.now();
  const res = await fetch(`${host.url}/health`, { signal: AbortSignal.timeout(withinMs) });
  expect(res.status).toBe(200);
  expect(((await res.json()) as { status: string }).status).toBe('ok');
  expect(Date.now() - started).toBeLessThan(withinMs);
}
