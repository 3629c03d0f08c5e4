import { randomBytes } from 'node:crypto';
import type { PutSecretInput, RunEvent } from '@workcell/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bash, containerOf, execIn } from '../security/support.js';
import { dataOf, docker, startTestHost, type TestHost } from '../support/host.js';
import { startSecretUpstream, type SecretUpstream } from '../support/secret-upstream.js';
import { makeTestCa, type TestCa } from '../support/test-ca.js';

/** The image under test: a build of this tree (`WORKCELL_IMAGE`), or the default tag. */
const IMAGE = process.env.WORKCELL_IMAGE ?? 'workcell/workspace:0.1.0';

/** Every tool_result text of a run, in order. */
function toolResults(events: RunEvent[]): string[] {
  const out: string[] = [];
  for (const m of dataOf<{ type: string; message?: { content?: unknown } }>(events, 'message')) {
    if (m.type !== 'user' || !Array.isArray(m.message?.content)) continue;
    for (const block of m.message.content as { type: string; content?: unknown }[]) {
      if (block.type !== 'tool_result') continue;
      const c = block.content;
      out.push(
        typeof c === 'string'
          ? c
          : Array.isArray(c)
            ? (c as { text?: string }[]).map((p) => p.text ?? '').join('')
            : '',
      );
    }
  }
  return out;
}

/**
 * Secrets end to end with real TLS on loopback: a local HTTPS API and git server with their own
 * test CA (trusted by the proxy through WORKCELL_UPSTREAM_CA_FILE), reached from inside a real
 * workspace container by the agent's tools (curl, git) with only the placeholder in hand.
 * `localhost` carries the `api` secret (and `git`); `127.0.0.1` carries `other`, so a tunnel to
 * it is terminated too and a wrong placeholder sent there is seen and refused.
 */
describe('secrets injected by the proxy', () => {
  const value = `real-${randomBytes(18).toString('hex')}`;
  const rotated = `rotated-${randomBytes(18).toString('hex')}`;
  let testCa: TestCa;
  let untrustedCa: TestCa;
  let upstream: SecretUpstream;
  let untrusted: SecretUpstream;
  let host: TestHost;
  let workspaceId: string;
  let conversationId: string;
  let containerId: string;
  const everything: string[] = [];

  const run = async (command: string): Promise<string> => {
    // Test hosts are loopback names, which NO_PROXY sends direct; real API hosts go by the proxy.
    const events = await host.send(conversationId, bash(`unset NO_PROXY no_proxy; ${command}`));
    everything.push(...events.map((e) => JSON.stringify(e.data)));
    expect(events.at(-1)?.event, JSON.stringify(events.at(-1))).toBe('run.completed');
    return toolResults(events).join('\n');
  };
  /** Creates or replaces a workspace secret (the client throws on anything but 200 or 201). */
  const putSecret = async (name: string, body: PutSecretInput): Promise<void> => {
    const { secret } = await host.wc.secrets.workspace.put(workspaceId, name, body);
    everything.push(JSON.stringify(secret));
  };

  beforeAll(async () => {
    testCa = makeTestCa(['localhost', '127.0.0.1']);
    untrustedCa = makeTestCa(['localhost'], 'Some Untrusted CA');
    upstream = await startSecretUpstream({ key: testCa.key, cert: testCa.cert, expected: value });
    untrusted = await startSecretUpstream({
      key: untrustedCa.key,
      cert: untrustedCa.cert,
      expected: value,
    });
    host = await startTestHost({
      image: IMAGE,
      egressAllow: `localhost:${upstream.port},127.0.0.1:${upstream.port},localhost:${untrusted.port}`,
      egressAllowPrivate: '127.0.0.1',
      secretsKey: randomBytes(32).toString('base64'),
      upstreamCaFile: testCa.caFile,
    });
    ({ workspaceId, conversationId } = await host.conversation());
    await putSecret('api', {
      value,
      hosts: ['localhost'],
      header: 'Authorization',
      format: 'Bearer {value}',
    });
    await putSecret('git', { value, hosts: ['localhost'] });
    await putSecret('other', {
      value: `other-${randomBytes(8).toString('hex')}`,
      hosts: ['127.0.0.1'],
    });
    await run('true');
    containerId = await containerOf(host, workspaceId);
  });

  afterAll(async () => {
    await host?.close();
    await upstream?.close();
    await untrusted?.close();
    testCa?.remove();
    untrustedCa?.remove();
  });

  it('gives the agent placeholders and the trust settings, never the value', async () => {
    const out = await run(
      'env | grep -E "^(WORKCELL_SECRET_|SSL_CERT_FILE|NODE_EXTRA_CA_CERTS|REQUESTS_CA_BUNDLE|GIT_SSL_CAINFO)" | sort',
    );
    expect(out).toMatch(/WORKCELL_SECRET_API=wcs_[A-Za-z0-9]{32}/);
    expect(out).toMatch(/WORKCELL_SECRET_GIT=wcs_/);
    expect(out).toContain('SSL_CERT_FILE=/etc/workcell/trust/bundle.crt');
    expect(out).toContain('NODE_EXTRA_CA_CERTS=/etc/workcell/trust/ca.crt');
    expect(out).toContain('REQUESTS_CA_BUNDLE=/etc/workcell/trust/bundle.crt');
    expect(out).toContain('GIT_SSL_CAINFO=/etc/workcell/trust/bundle.crt');
    expect(out).not.toContain(value);
  });

  it('curl with the placeholder reaches the API, which sees the real value', async () => {
    const before = upstream.authorizations.length;
    const out = await run(
      `curl -sS -H "Authorization: Bearer $WORKCELL_SECRET_API" https://localhost:${upstream.port}/api/check`,
    );
    expect(out).toContain('{"authorized":true}');
    expect(upstream.authorizations.slice(before)).toEqual([`Bearer ${value}`]);
  });

  it('Python and Node trust the Workcell CA through the same settings', async () => {
    const url = `https://localhost:${upstream.port}/api/check`;
    const py = await run(
      `python3 -c "import urllib.request,os; r=urllib.request.Request('${url}', headers={'Authorization': 'Bearer '+os.environ['WORKCELL_SECRET_API']}); print(urllib.request.urlopen(r).read().decode())"`,
    );
    expect(py).toContain('{"authorized":true}');
    // Node's https does not read HTTPS_PROXY; the script opens the CONNECT tunnel itself and
    // verifies with Node's default roots, which NODE_EXTRA_CA_CERTS extends.
    const script = [
      "const http = require('http'), tls = require('tls');",
      `http.request({ host: '127.0.0.1', port: 3128, method: 'CONNECT', path: 'localhost:${upstream.port}',`,
      `  headers: { host: 'localhost:${upstream.port}' } })`,
      "  .on('connect', (res, socket) => {",
      "    const t = tls.connect({ socket, servername: 'localhost' }, () => {",
      `      t.write('GET /api/check HTTP/1.1\\r\\nHost: localhost:${upstream.port}\\r\\nConnection: close\\r\\n' +`,
      "        'Authorization: Bearer ' + process.env.WORKCELL_SECRET_API + '\\r\\n\\r\\n');",
      '      t.pipe(process.stdout);',
      '    });',
      "    t.on('error', (e) => console.log('ERR', e.message));",
      '  })',
      '  .end();',
    ].join('\n');
    const node = await run(`cat > /tmp/tunnel.js <<'EOF'\n${script}\nEOF\nnode /tmp/tunnel.js`);
    expect(node).toContain('{"authorized":true}');
  });

  it('git clone over HTTPS with the placeholder token succeeds', async () => {
    const out = await run(
      `cd /tmp && rm -rf clone && git clone -q "https://x-access-token:$WORKCELL_SECRET_GIT@localhost:${upstream.port}/git/repo.git" clone 2>&1; cat clone/README; git -C clone config remote.origin.url | sed 's/wcs_[A-Za-z0-9]*/PLACEHOLDER/'`,
    );
    expect(out).toContain(upstream.readme.trim());
    expect(out).toContain(
      `https://x-access-token:PLACEHOLDER@localhost:${upstream.port}/git/repo.git`,
    );
    expect(out).not.toContain(value);
  });

  it('refuses the placeholder sent to an allowed host that does not hold that secret', async () => {
    const before = upstream.requests;
    const out = await run(
      `curl -s -w '\\n%{http_code} %header{x-workcell-egress-denied}' -H "Authorization: Bearer $WORKCELL_SECRET_API" https://127.0.0.1:${upstream.port}/api/check`,
    );
    expect(out).toContain('403 secret-wrong-host');
    expect(out).toContain('secret \\"api\\"');
    expect(upstream.requests).toBe(before);
    const egress = await host.wc.egress.get(workspaceId);
    expect(egress.recent.map((r) => r.reason)).toContain('secret-wrong-host');
    const metrics = await host.wc.metrics();
    expect(metrics).toMatch(/workcell_secret_refusals_total\{reason="secret-wrong-host"\} [1-9]/);
    expect(metrics).toMatch(/workcell_secret_substitutions_total [1-9]/);
  });

  it('a secret rotated through the API applies to the next request', async () => {
    upstream.expected = rotated;
    await putSecret('api', {
      value: rotated,
      hosts: ['localhost'],
      header: 'Authorization',
      format: 'Bearer {value}',
    });
    const out = await run(
      `curl -sS -H "Authorization: Bearer $WORKCELL_SECRET_API" https://localhost:${upstream.port}/api/check`,
    );
    expect(out).toContain('{"authorized":true}');
    expect(upstream.authorizations.at(-1)).toBe(`Bearer ${rotated}`);
    upstream.expected = value;
  });

  it('fails closed with a clear message when the upstream certificate does not verify', async () => {
    await putSecret('api', {
      value,
      hosts: ['localhost'],
      header: 'Authorization',
      format: 'Bearer {value}',
    });
    const out = await run(
      `curl -sS -v -H "Authorization: Bearer $WORKCELL_SECRET_API" https://localhost:${untrusted.port}/api/check 2>&1; echo "exit=$?"`,
    );
    expect(out).toMatch(/< HTTP\/1\.1 502/);
    expect(out).not.toContain('exit=0');
    expect(untrusted.authorizations.filter((a) => a !== '')).toEqual([]);
    const logged = host.logs.filter((l) => l.includes('upstream certificate refused'));
    expect(logged.length).toBeGreaterThan(0);
    const egress = await host.wc.egress.get(workspaceId);
    expect(egress.recent.map((r) => r.reason)).toContain('upstream-tls-failed');
  });

  it('leaves the value nowhere: container env, files, /proc, responses, logs', async () => {
    const inspect = await docker('inspect', containerId);
    expect(inspect).not.toContain(value);
    expect(inspect).not.toContain(rotated);
    // The needles travel on stdin, so they never appear in a command line inside the container.
    const scan = await execIn(
      containerId,
      'grep -rlsF -f /dev/stdin /workspace /tmp /home/agent /var/lib/workcell /etc /run/workcell /proc/[0-9]*/environ /proc/[0-9]*/cmdline 2>/dev/null; echo scanned',
      { stdin: `${value}\n${rotated}\n`, timeoutMs: 60_000 },
    );
    expect(scan.stdout.trim()).toBe('scanned');
    const logs = await docker('logs', containerId).catch(() => '');
    for (const haystack of [...everything, ...host.logs, logs]) {
      expect(haystack).not.toContain(value);
      expect(haystack).not.toContain(rotated);
    }
  });
});
