import { createPrivateKey, randomBytes, webcrypto } from 'node:crypto';
import { isIP } from 'node:net';
import { createSecureContext, type SecureContext } from 'node:tls';
import { x509 } from './x509.js';
import type { WorkcellCa } from './ca.js';

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const HOUR_MS = 3_600_000;
const VALIDITY_MS = 7 * 24 * HOUR_MS;
/** A cached certificate is minted again once less than this is left of it. */
const RENEW_BEFORE_MS = 24 * HOUR_MS;

interface Minted {
  readonly context: SecureContext;
  readonly notAfterMs: number;
}

/**
 * Issues leaf certificates signed by the Workcell CA, one per host, for the TLS the proxy
 * terminates. The caller decides which hosts qualify (only hosts bound to a secret of the
 * calling workspace); the minter never sees a request. One leaf key serves every host (as
 * intercepting proxies commonly do): minting is one signature. Certificates are cached, at most
 * `capacity` hosts, least recently used first out.
 */
export class CertificateMinter {
  private readonly cache = new Map<string, Promise<Minted>>();
  private leafKey: Promise<{ pair: webcrypto.CryptoKeyPair; pem: string }> | null = null;
  private issued = 0;

  constructor(
    private readonly ca: WorkcellCa,
    private readonly capacity = 1_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** How many certificates were signed so far (the attack suite checks none is minted needlessly). */
  get issuedCount(): number {
    return this.issued;
  }

  /** The TLS context presenting a certificate for `host` (a canonical name or IP literal). */
  async contextFor(host: string): Promise<SecureContext> {
    const cached = this.cache.get(host);
    if (cached) {
      const minted = await cached.catch(() => null);
      if (minted && minted.notAfterMs - this.now() > RENEW_BEFORE_MS) {
        this.cache.delete(host);
        this.cache.set(host, cached);
        return minted.context;
      }
      if (this.cache.get(host) === cached) this.cache.delete(host);
    }
    const pending = this.mint(host);
    this.cache.set(host, pending);
    pending.catch(() => this.cache.delete(host));
    while (this.cache.size > this.capacity) {
      const oldest = this.cache.keys().next().value;
      if (oldest === undefined) break;
      this.cache.delete(oldest);
    }
    return (await pending).context;
  }

  private key(): Promise<{ pair: webcrypto.CryptoKeyPair; pem: string }> {
    this.leafKey ??= (async () => {
      const pair = await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']);
      const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', pair.privateKey);
      const pem = createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' })
        .export({ format: 'pem', type: 'pkcs8' })
        .toString();
      return { pair, pem };
    })();
    return this.leafKey;
  }

  private async mint(host: string): Promise<Minted> {
    const key = await this.key();
    const now = this.now();
    const notAfterMs = now + VALIDITY_MS;
    const serial = randomBytes(16);
    serial[0] = (serial[0] ?? 0) & 0x7f;
    const ip = isIP(host) !== 0;
    const certificate = await x509.X509CertificateGenerator.create({
      serialNumber: serial.toString('hex'),
      subject: ip ? 'CN=workcell-ip' : `CN=${host}`,
      issuer: this.ca.certificate.subject,
      notBefore: new Date(now - HOUR_MS),
      notAfter: new Date(notAfterMs),
      signingAlgorithm: ALGORITHM,
      publicKey: key.pair.publicKey,
      signingKey: this.ca.privateKey,
      extensions: [
        new x509.SubjectAlternativeNameExtension([{ type: ip ? 'ip' : 'dns', value: host }]),
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        await x509.AuthorityKeyIdentifierExtension.create(this.ca.certificate),
      ],
    });
    this.issued += 1;
    const context = createSecureContext({
      key: key.pem,
      cert: `${certificate.toString('pem')}\n${this.ca.certificatePem}`,
      minVersion: 'TLSv1.2',
    });
    return { context, notAfterMs };
  }
}
