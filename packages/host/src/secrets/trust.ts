import { join } from 'node:path';
import {
  CA_FILES,
  loadOrCreateCa,
  loadUpstreamTrust,
  type CaPaths,
  type InterceptionOptions,
} from '@workcell/proxy';

/** The Workcell CA of this installation, as the proxy and the containers need it. */
export interface TrustSetup {
  interception: InterceptionOptions;
  /** Where the CA lives, for the proxy process, which loads it itself. */
  caPaths: CaPaths;
  /** The operator's CA file for upstream certificates, if any. */
  upstreamCaFile: string | null;
  /** Host directory with `ca.crt` and `bundle.crt`, mounted read-only into containers. */
  publicDir: string;
}

/**
 * Loads (or creates on first start) the installation's CA under the data directory: its key in
 * `ca/` (0700, never mounted), its certificate and trust bundle in `trust/` (mounted read-only
 * into every container). Upstream certificates are checked against the system's roots and the
 * operator's CA file.
 */
export async function loadInterception(
  dataDir: string,
  upstreamCaFile: string | null,
): Promise<TrustSetup> {
  const publicDir = join(dataDir, 'trust');
  const caPaths: CaPaths = { privateDir: join(dataDir, 'ca'), publicDir };
  const ca = await loadOrCreateCa(caPaths);
  let upstreamTrust;
  try {
    upstreamTrust = await loadUpstreamTrust(upstreamCaFile);
  } catch (err) {
    throw new Error(
      `WORKCELL_UPSTREAM_CA_FILE: cannot use ${upstreamCaFile ?? ''}: ${(err as Error).message}`,
    );
  }
  return { interception: { ca, upstreamTrust }, caPaths, upstreamCaFile, publicDir };
}

/**
 * The container environment that makes TLS clients trust the Workcell CA: one-file bundles for
 * OpenSSL, curl, Python and git; the CA alone for Node, which adds it to its own roots.
 */
export function containerTrustEnv(trustDir: string): Record<string, string> {
  const bundle = `${trustDir}/${CA_FILES.bundle}`;
  return {
    SSL_CERT_FILE: bundle,
    CURL_CA_BUNDLE: bundle,
    REQUESTS_CA_BUNDLE: bundle,
    GIT_SSL_CAINFO: bundle,
    NODE_EXTRA_CA_CERTS: `${trustDir}/${CA_FILES.certificate}`,
  };
}
