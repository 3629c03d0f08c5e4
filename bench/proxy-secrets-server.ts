/**
 * The proxy of bench/proxy-secrets.ts in a process of its own (as in production, where it runs in
 * the host, not beside the client and the upstream): one listener whose workspace has one secret
 * bound to `secret.example`. Prints `{socketPath, caPem}` on one line once it listens.
 * Args: <upstream port> <work dir> <upstream CA file> <placeholder>.
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

async function main(): Promise<void> {
  const [portText, dir, upstreamCaFile, placeholder] = process.argv.slice(2);
  if (!portText || !dir || !upstreamCaFile || !placeholder)
    throw new Error('usage: proxy-secrets-server <port> <dir> <ca file> <placeholder>');
  const port = Number(portText);
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
