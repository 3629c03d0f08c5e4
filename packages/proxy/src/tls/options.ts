import type { SecureContext } from 'node:tls';
import type { WorkcellCa } from './ca.js';
import type { Interception } from './intercept.js';
import { CertificateMinter } from './minter.js';

/** How the proxy terminates TLS for secret hosts. */
export interface InterceptionOptions {
  /** The installation's CA (`loadOrCreateCa`). */
  ca: WorkcellCa;
  /** Roots for upstream certificates (`loadUpstreamTrust`). */
  upstreamTrust: SecureContext;
  /** Limit on each TLS handshake, toward the container and upstream; default 10 s. */
  handshakeTimeoutMs?: number;
  /** Hosts whose certificates are kept; default 1000. */
  certificateCacheSize?: number;
}

export function interceptionFor(options: InterceptionOptions): Interception {
  return {
    minter: new CertificateMinter(options.ca, options.certificateCacheSize ?? 1_000),
    upstreamTrust: options.upstreamTrust,
    handshakeTimeoutMs: options.handshakeTimeoutMs ?? 10_000,
  };
}
