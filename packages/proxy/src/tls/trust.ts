import { readFile } from 'node:fs/promises';
import {
  connect as tlsConnect,
  createSecureContext,
  type ConnectionOptions,
  rootCertificates,
  type SecureContext,
  type TLSSocket,
} from 'node:tls';
import { isIP, type Socket } from 'node:net';
import { STREAM_BUFFERING } from '../net/buffers.js';

/** Where Debian-family systems keep the system trust store as one file. */
const SYSTEM_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

/**
 * The roots an upstream certificate must chain to when the proxy terminates TLS: Node's public
 * roots, the system trust store when it has one, and the operator's CA file
 * (`WORKCELL_UPSTREAM_CA_FILE`, for internal APIs and tests) when given.
 */
export async function loadUpstreamTrust(operatorCaFile: string | null): Promise<SecureContext> {
  const roots = [...rootCertificates];
  const system = await readFile(SYSTEM_BUNDLE, 'utf8').catch(() => null);
  if (system) roots.push(system);
  if (operatorCaFile) {
    const text = await readFile(operatorCaFile, 'utf8');
    if (!text.includes('-----BEGIN CERTIFICATE-----'))
      throw new Error(`${operatorCaFile} holds no PEM certificate`);
    roots.push(text);
  }
  return createSecureContext({ ca: roots, minVersion: 'TLSv1.2' });
}

/** Why the upstream's TLS failed, for a refusal the container can read. */
export class UpstreamTlsError extends Error {
  override readonly name = 'UpstreamTlsError';
  constructor(
    readonly host: string,
    readonly port: number,
    readonly code: string,
  ) {
    super(
      `the TLS certificate of ${host}:${port} could not be verified (${code}); the proxy does not send requests to it`,
    );
  }
}

/**
 * Starts verified TLS on a connection already made to a checked address: the certificate must
 * chain to the roots of `trust` (from `loadUpstreamTrust`) and name `host`; only HTTP/1.1 is offered. Answers the socket once the
 * handshake completes; fails with `UpstreamTlsError` otherwise.
 */
export function connectUpstreamTls(
  socket: Socket,
  host: string,
  port: number,
  trust: SecureContext,
  timeoutMs: number,
): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const options: ConnectionOptions = {
      ...STREAM_BUFFERING,
      socket,
      host,
      servername: isIP(host) === 0 ? host : undefined,
      secureContext: trust,
      rejectUnauthorized: true,
      ALPNProtocols: ['http/1.1'],
    };
    const tls = tlsConnect(options);
    const timer = setTimeout(() => {
      tls.destroy();
      reject(new UpstreamTlsError(host, port, 'handshake timed out'));
    }, timeoutMs);
    tls.once('secureConnect', () => {
      clearTimeout(timer);
      tls.removeListener('error', onError);
      // A verified connection may sit unused (a tunnel that sends no request): an error on it
      // (a reset from the upstream) closes it and is never thrown.
      tls.on('error', () => tls.destroy());
      resolve(tls);
    });
    const onError = (err: NodeJS.ErrnoException): void => {
      clearTimeout(timer);
      tls.destroy();
      reject(new UpstreamTlsError(host, port, err.code ?? err.message));
    };
    tls.once('error', onError);
  });
}
