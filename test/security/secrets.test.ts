import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHost, type TestHost } from '../support/host.js';
import { startSecretUpstream, type SecretUpstream } from '../support/secret-upstream.js';
import { makeTestCa, type TestCa } from '../support/test-ca.js';
import { execIn, RUNTIMES, workspaceWithContainer } from './support.js';

const IMAGE = process.env.WORKCELL_IMAGE ?? 'workcell/workspace:0.1.0';

/**
 * Attacks on the secrets path from inside a workspace container: the Workcell CA's private key
 * is out of reach, its public files cannot be altered, and the proxy issues a certificate only
 * for a host bound to a secret of the calling workspace.
 */
describe.each(RUNTIMES)('the Workcell CA under attack (%s)', (runtime) => {
  let testCa: TestCa;
  let upstream: SecretUpstream;
  let host: TestHost;
  let containerId: string;
  let caKeyPem: string;

  beforeAll(async () => {
    testCa = makeTestCa(['localhost', '127.0.0.1']);
    upstream = await startSecretUpstream({ key: testCa.key, cert: testCa.cert, expected: 'x' });
    host = await startTestHost({
      runtime,
      image: IMAGE,
      egressAllow: `localhost:${upstream.port},127.0.0.1:${upstream.port}`,
      egressAllowPrivate: '127.0.0.1',
      secretsKey: randomBytes(32).toString('base64'),
      upstreamCaFile: testCa.caFile,
    });
    const ws = await workspaceWithContainer(host);
    containerId = ws.containerId;
    // Only 127.0.0.1 holds a secret of this workspace; localhost holds none.
    const put = await host.wc.secrets.workspace.put(ws.workspaceId, 'other', {
      value: 'v-other',
      hosts: ['127.0.0.1'],
    });
    expect(put.created).toBe(true);
    caKeyPem = readFileSync(join(host.dataDir, 'ca', 'ca.key'), 'utf8');
  });

  afterAll(async () => {
    await host?.close();
    await upstream?.close();
    testCa?.remove();
  });

  it('reading the CA private key from inside is impossible', async () => {
    const keyBody = caKeyPem.split('\n')[1] ?? '';
    expect(keyBody.length).toBeGreaterThan(20);
    // Search every file the container can read, the mounted trust directory first, for the
    // key's text; the needle travels on stdin.
    const scan = await execIn(
      containerId,
      'head -1 /etc/workcell/trust/ca.crt /etc/workcell/trust/bundle.crt; grep -rlsF -f /dev/stdin / --exclude-dir=proc --exclude-dir=sys 2>/dev/null; echo scanned',
      { stdin: `${keyBody}\n`, timeoutMs: 120_000 },
    );
    expect(scan.stdout).toContain(
      '==> /etc/workcell/trust/ca.crt <==\n-----BEGIN CERTIFICATE-----',
    );
    expect(scan.stdout).toContain(
      '==> /etc/workcell/trust/bundle.crt <==\n-----BEGIN CERTIFICATE-----',
    );
    expect(scan.stdout.trim().split('\n').at(-1)).toBe('scanned');
    expect(scan.stdout).not.toMatch(/^\/.*$/m);
    const mounts = await execIn(containerId, 'cat /proc/self/mountinfo');
    expect(mounts.stdout).not.toContain(join(host.dataDir, 'ca'));
    const keyFiles = await execIn(
      containerId,
      'grep -l "PRIVATE KEY" /etc/workcell/trust/* || true',
    );
    expect(keyFiles.stdout.trim()).toBe('');
  });

  it('the trust files are read-only inside', async () => {
    const write = await execIn(
      containerId,
      'echo x >> /etc/workcell/trust/ca.crt; echo x >> /etc/ssl/certs/ca-certificates.crt; touch /etc/workcell/trust/evil.crt; test -e /etc/workcell/trust/evil.crt && echo evil.crt',
    );
    expect(write.stderr).toMatch(/Read-only file system|Permission denied/);
    expect(write.stdout).not.toContain('evil.crt');
  });

  it('asking the proxy to mint a certificate for a host with no secret: it does not', async () => {
    // curl trusting only the Workcell CA: a tunnel to a host without a secret is opaque, so the
    // certificate is the upstream's own (its test CA) and verification fails.
    const probe = (
      target: string,
      trust = '--cacert /etc/workcell/trust/ca.crt',
    ): Promise<{ stdout: string; stderr: string; code: number | null }> =>
      execIn(
        containerId,
        `curl -sv -x http://127.0.0.1:3128 ${trust} https://${target}:${upstream.port}/api/check 2>&1; echo "exit=$?"`,
      );
    const plain = await probe('localhost');
    expect(plain.stdout).toContain('exit=60');
    const unverified = await probe('localhost', '--insecure');
    expect(unverified.stdout).toContain('issuer: CN=Workcell Test Upstream CA');
    expect(unverified.stdout).not.toContain('issuer: CN=Workcell CA');
    // The control: the host bound to a secret is terminated with a Workcell certificate.
    const bound = await probe('127.0.0.1');
    expect(bound.stdout).toMatch(/issuer: CN=Workcell CA/);
    expect(bound.stdout).toContain('exit=0');
    // A host outside the allowlist gets no tunnel and no certificate at all.
    const denied = await execIn(
      containerId,
      'curl -sv -x http://127.0.0.1:3128 --cacert /etc/workcell/trust/ca.crt https://api.github.com/ 2>&1; echo "exit=$?"',
    );
    expect(denied.stdout).toMatch(/< HTTP\/1\.1 403/);
    expect(denied.stdout).not.toContain('issuer: CN=Workcell CA');
  });
});
