/**
 * The proxy of bench/proxy-secrets.ts in a process of its own (as in production, where it runs in
 * the host, not beside the client and the upstream): one listener whose workspace has one secret
 * bound to `secret.example`. Prints `{socketPath, caPem}` on one line once it listens.
 * Args: <upstream port> <work dir> <upstream CA file> <placeholder> [inline|process]. With
 * `process`, this process is the host's supervisor (`ProxyProcess`) and the proxy runs in the
 * process it forks, as with WORKCELL_PROXY_ISOLATION=process; that proxy resolves names itself,
 * so the secret's host is `localhost` and the opaque one `127.0.0.1`.
 */
import { join } from 'node:path';
import { pino } from 'pino';
import {
  CredentialProxy,
  loadOrCreateCa,
  loadUpstreamTrust,
  parseCidrList,
  parseEgressPatterns,
  type SecretBinding,
} from '../packages/proxy/src/index.js';
import { ProxyProcess } from '../packages/host/src/egress/proxy-process.js';

/** The proxy process under the host's supervisor, one listener pushed to it. */
async function startProcess(
  port: number,
  dir: string,
  upstreamCaFile: string,
  placeholder: string,
): Promise<void> {
  const caPaths = { privateDir: join(dir, 'ca'), publicDir: join(dir, 'trust') };
  const ca = await loadOrCreateCa(caPaths);
  const logger = pino({ level: 'silent' });
  const supervisor = new ProxyProcess({
    init: {
      logLevel: 'silent',
      anthropic: null,
      bedrock: null,
      limits: {},
      interception: { caPaths, upstreamCaFile },
    },
    logger,
    childLogger: logger,
    audit: () => undefined,
    started: async () => undefined,
  });
  await supervisor.start();
  const socketPath = join(dir, 'egress.sock');
  await supervisor.request({
    type: 'listen',
    id: 1,
    socketPath,
    state: {
      identity: { workspaceId: 'bench', containerId: null },
      policy: {
        allow: parseEgressPatterns(`localhost:${port},127.0.0.1:${port}`, 'WORKCELL_EGRESS_ALLOW'),
        deny: [],
        allowPrivate: parseCidrList('127.0.0.1/32,::1/128', 'WORKCELL_EGRESS_ALLOW_PRIVATE'),
      },
      secrets: [
        {
          name: 'bench',
          placeholder,
          hosts: ['localhost'],
          headers: true,
          body: false,
          header: 'authorization',
          format: 'Bearer {value}',
          value: 'bench-real-value',
        },
      ],
    },
  });
  process.stdout.write(`${JSON.stringify({ socketPath, caPem: ca.certificatePem })}\n`);
  // The proxy process never holds its parent open (a host lives by its own servers): this one
  // waits for SIGTERM.
  const alive = setInterval(() => undefined, 60_000);
  process.on('SIGTERM', () => {
    clearInterval(alive);
    void supervisor.stop().finally(() => process.exit(0));
  });
}

async function main(): Promise<void> {
  const [portText, dir, upstreamCaFile, placeholder, isolation] = process.argv.slice(2);
  if (!portText || !dir || !upstreamCaFile || !placeholder)
    throw new Error('usage: proxy-secrets-server <port> <dir> <ca file> <placeholder> [isolation]');
  const port = Number(portText);
  if (isolation === 'process') {
    await startProcess(port, dir, upstreamCaFile, placeholder);
    return;
  }
  const ca = await loadOrCreateCa({ privateDir: join(dir, 'ca'), publicDir: join(dir, 'trust') });
  const proxy = new CredentialProxy({
    resolve: async () => ['127.0.0.1'],
    audit: () => undefined,
    logger: pino({ level: 'silent' }),
    interception: { ca, upstreamTrust: await loadUpstreamTrust(upstreamCaFile) },
  });
  const policy = {
    allow: parseEgressPatterns(
      `secret.example:${port},plain.example:${port}`,
      'WORKCELL_EGRESS_ALLOW',
    ),
    deny: [],
    allowPrivate: parseCidrList('127.0.0.1/32', 'WORKCELL_EGRESS_ALLOW_PRIVATE'),
  };
  const secret: SecretBinding = {
    name: 'bench',
    placeholder,
    hosts: ['secret.example'],
    headers: true,
    body: false,
    header: 'authorization',
    format: 'Bearer {value}',
    value: () => 'bench-real-value',
  };
  const socketPath = join(dir, 'egress.sock');
  await proxy.listen(
    socketPath,
    { workspaceId: 'bench', containerId: null },
    () => policy,
    () => [secret],
  );
  process.stdout.write(`${JSON.stringify({ socketPath, caPem: ca.certificatePem })}\n`);
  process.on('SIGTERM', () => {
    void proxy.close().finally(() => process.exit(0));
  });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
