import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { docker, startTestHost, type TestHost } from '../support/host.js';
import {
  RUNTIMES,
  WORKSPACE_IMAGE,
  bash,
  execIn,
  fakeSecret,
  removeContainer,
  run,
  runCompletes,
  unhardenedContainer,
  workspaceWithContainer,
} from './support.js';

/**
 * A hostile agent looks for credentials everywhere it can read: its environment, every
 * process's environment and command line, every file (its session transcripts included), and
 * the image it runs. The host holds a model key, AWS credentials (used for S3 here) and API
 * tokens; none may be found. Secrets go into probes on stdin, never as arguments.
 */

/** Every line of /proc/<pid>/environ and cmdline the agent's Bash tool can read, and its env. */
const PROC_PROBE = [
  'for f in /proc/[0-9]*/environ /proc/[0-9]*/cmdline; do printf "\\n== %s\\n" "$f"; tr "\\0" "\\n" < "$f" 2>&1; done > /workspace/probe.txt',
  'env >> /workspace/probe.txt',
  'echo probed',
].join('; ');

/** Lists every readable file holding any line of stdin; `scanned` marks the scan's end. */
const FILE_SCAN =
  'grep -rlaF -D skip -f /dev/stdin / --exclude-dir=proc --exclude-dir=sys --exclude-dir=dev 2>/dev/null; echo scanned';

/** How many lines of a container's exported filesystem hold a line of fd 3. */
async function exportMatches(containerId: string, secrets: string[]): Promise<number> {
  const r = await run(
    'bash',
    ['-c', 'docker export "$1" | grep -caF -f <(cat <&3)', 'bash', containerId],
    {
      fd3: `${secrets.join('\n')}\n`,
      timeoutMs: 120_000,
    },
  );
  if (r.code !== 0 && r.code !== 1) throw new Error(`export scan failed (${r.code}): ${r.stderr}`);
  return Number(r.stdout.trim());
}

describe.each(RUNTIMES)('credentials never reach a workspace container (%s)', (runtime) => {
  let host: TestHost;
  let workspaceId: string;
  let conversationId: string;
  let containerId: string;
  let secrets: string[];
  const savedEnv = { ...process.env };

  beforeAll(async () => {
    const anthropicKey = fakeSecret('sk-ant-api03-');
    const awsSecret = fakeSecret('aws-secret-');
    const awsSession = fakeSecret('aws-session-');
    const adminToken = fakeSecret('admin-token-');
    const otherTenantToken = fakeSecret('tok-');
    // The host's S3 client and Bedrock signer read these through the AWS SDK's default chain;
    // s3rver only checks the key id, so the secret and session token are ours to choose.
    process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
    process.env.AWS_SECRET_ACCESS_KEY = awsSecret;
    process.env.AWS_SESSION_TOKEN = awsSession;
    host = await startTestHost({
      runtime,
      anthropicApiKey: anthropicKey,
      s3Bucket: inject('s3Bucket'),
      s3Endpoint: inject('s3Endpoint'),
      s3Prefix: `sec-${runtime}-${Date.now()}`,
      adminTokens: adminToken,
      tokens: { [otherTenantToken]: 'other' },
    });
    secrets = [anthropicKey, awsSecret, awsSession, adminToken, otherTenantToken, host.token];
    ({ workspaceId, conversationId, containerId } = await workspaceWithContainer(host, {
      'input.txt': 'hello\n',
    }));
  });

  afterAll(async () => {
    await host?.close();
    for (const key of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']) {
      if (savedEnv[key] === undefined) delete process.env[key];
      else process.env[key] = savedEnv[key];
    }
  });

  it('the agent finds no credential in any process environment or command line while it runs', async () => {
    await runCompletes(host, conversationId, bash(PROC_PROBE));
    const res = await host.api(`/v1/workspaces/${workspaceId}/files/probe.txt`);
    expect(res.status).toBe(200);
    const probe = await res.text();
    // The probe read the SDK CLI's environment (its model base URL is the egress bridge) and
    // the agent's; the model key in the CLI is only a placeholder the proxy replaces.
    expect(probe).toContain('ANTHROPIC_BASE_URL=http://127.0.0.1:3128');
    expect(probe).toContain('ANTHROPIC_API_KEY=workcell-proxy-adds-the-key');
    // ... and other processes' too: the agent's environment and command line.
    expect(probe).toContain('WORKCELL_AGENT_VERSION=');
    expect(probe).toContain('/opt/workcell/agent.mjs');
    for (const secret of secrets)
      expect(probe.includes(secret), 'a credential is visible in /proc').toBe(false);
    // The real key was in use all along: the proxy added it on the way to the model.
    const calls = host.mock.requests.filter((r) => r.api === 'anthropic');
    expect(calls.length).toBeGreaterThan(0);
    for (const call of calls) expect(call.apiKeys).toEqual([secrets[0]]);
  });

  it('no readable file holds a credential, the session transcripts included', async () => {
    const sessions = await execIn(
      containerId,
      'find /var/lib/workcell/claude -name "*.jsonl" -size +0 | wc -l',
    );
    expect(
      Number(sessions.stdout.trim()),
      'session transcripts exist to be scanned',
    ).toBeGreaterThan(0);
    const scan = await execIn(containerId, FILE_SCAN, {
      stdin: `${secrets.join('\n')}\n`,
      timeoutMs: 120_000,
    });
    expect(scan.stdout.trim()).toBe('scanned');
    // The same scan finds a planted canary, so a credential in a file would be found.
    const canary = fakeSecret('canary-');
    await execIn(containerId, 'cat > /tmp/canary.txt', { stdin: canary });
    const control = await execIn(containerId, FILE_SCAN, {
      stdin: `${canary}\n`,
      timeoutMs: 120_000,
    });
    expect(control.stdout).toContain('/tmp/canary.txt');
    await execIn(containerId, 'rm -f /tmp/canary.txt');
  });

  it("the container's configuration and exported filesystem hold no credential", async () => {
    const config = await docker(
      'inspect',
      '--format',
      '{{json .Config}} {{json .HostConfig.Binds}}',
      containerId,
    );
    expect(config).toContain('WORKCELL_MODEL_PROVIDER');
    for (const secret of secrets) expect(config.includes(secret)).toBe(false);
    expect(await exportMatches(containerId, secrets)).toBe(0);
  });
});

describe('the image holds no credential', () => {
  it('in its build history or configuration', async () => {
    const history = await docker(
      'history',
      '--no-trunc',
      '--format',
      '{{.CreatedBy}}',
      WORKSPACE_IMAGE,
    );
    const config = await docker(
      'image',
      'inspect',
      '--format',
      '{{json .Config}}',
      WORKSPACE_IMAGE,
    );
    expect(history).toContain('agent.mjs');
    for (const text of [history, config]) {
      expect(text).not.toMatch(/sk-ant-[A-Za-z0-9_-]{8,}/);
      expect(text).not.toMatch(
        /AWS_SECRET_ACCESS_KEY|AWS_SESSION_TOKEN|ANTHROPIC_API_KEY=(?!workcell)/,
      );
      expect(text).not.toMatch(/AKIA[0-9A-Z]{16}/);
    }
  });
});

describe('controls: the same probes find a planted secret where nothing stops them', () => {
  let control: string | undefined;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'workcell-control-'));
  });

  afterAll(async () => {
    await removeContainer(control);
    rmSync(dir, { recursive: true, force: true });
  });

  it('a secret in a container environment shows in /proc/1/environ, and a secret file in docker export', async () => {
    const canary = fakeSecret('canary-');
    const envFile = join(dir, 'env');
    writeFileSync(envFile, `MODEL_KEY=${canary}\n`);
    control = await unhardenedContainer({ user: '1000:1000', envFile });
    const probe = await execIn(control, 'tr "\\0" "\\n" < /proc/1/environ');
    expect(probe.stdout).toContain(canary);
    await execIn(control, 'cat > /tmp/secret.txt', { stdin: canary });
    expect(await exportMatches(control, [canary])).toBeGreaterThan(0);
  });
});
