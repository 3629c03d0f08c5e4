import type { SecureContext } from 'node:tls';
import type { WorkcellCa } from './ca.js';
import { CertificateMinter } from './minter.js';

/** What the proxy needs to terminate TLS for secret hosts; absent, every tunnel stays opaque. */
export interface Interception {
  readonly minter: CertificateMinter;
  /** The roots upstream certificates must chain to (`loadUpstreamTrust`). */
  readonly upstreamTrust: SecureContext;
  readonly handshakeTimeoutMs: number;
}

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
