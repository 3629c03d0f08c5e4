import { createPrivateKey, randomBytes, webcrypto, X509Certificate } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { x509 } from './x509.js';

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;

/** File names of the CA: the key in the private directory, the rest in the public one. */
export const CA_FILES = {
  key: 'ca.key',
  certificate: 'ca.crt',
  /** Public roots plus the Workcell CA, for clients that take one file (SSL_CERT_FILE). */
  bundle: 'bundle.crt',
} as const;

/** Where an installation keeps its CA. */
export interface CaPaths {
  /** Holds `ca.key` (0600, directory 0700); never mounted into a container. */
  readonly privateDir: string;
  /** Holds `ca.crt` and `bundle.crt`; mounted read-only into every container. */
  readonly publicDir: string;
}

/** The installation's certificate authority: its key signs leaf certificates for secret hosts. */
export interface WorkcellCa {
  readonly certificatePem: string;
  readonly privateKey: webcrypto.CryptoKey;
  readonly certificate: x509.X509Certificate;
}

function serial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return bytes.toString('hex');
}

async function importKey(pem: string): Promise<webcrypto.CryptoKey> {
  const der = createPrivateKey(pem).export({ format: 'der', type: 'pkcs8' });
  return webcrypto.subtle.importKey('pkcs8', der, ALGORITHM, false, ['sign']);
}

async function createCa(): Promise<{ keyPem: string; certificatePem: string }> {
  const keys = await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']);
  const now = Date.now();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=Workcell CA ${hostname().slice(0, 32)} ${randomBytes(4).toString('hex')}, O=Workcell`,
    notBefore: new Date(now - DAY_MS),
    notAfter: new Date(now + 3650 * DAY_MS),
    signingAlgorithm: ALGORITHM,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  const keyPem = createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' })
    .export({ format: 'pem', type: 'pkcs8' })
    .toString();
  return { keyPem, certificatePem: certificate.toString('pem') };
}

/** Writes only when the content differs: a file bind-mounted into containers keeps its inode. */
async function writeIfChanged(path: string, content: string): Promise<void> {
  if ((await readIfPresent(path)) === content) return;
  await writeFile(path, content, { mode: 0o644 });
}

async function readIfPresent(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/**
 * Loads the installation's CA, creating it on first use: an ECDSA P-256 key that only this
 * host reads (0600 in a 0700 directory) and a ten-year certificate that may sign leaf
 * certificates only (path length 0). Also writes `bundle.crt`, Node's public roots followed by
 * the CA, for clients inside containers that take one trust file. Hosts sharing a data
 * directory share the CA: the first writer wins (exclusive create).
 */
export async function loadOrCreateCa(paths: CaPaths): Promise<WorkcellCa> {
  await mkdir(paths.privateDir, { recursive: true, mode: 0o700 });
  await chmod(paths.privateDir, 0o700);
  await mkdir(paths.publicDir, { recursive: true, mode: 0o755 });
  const keyPath = join(paths.privateDir, CA_FILES.key);
  const certificatePath = join(paths.privateDir, CA_FILES.certificate);
  let keyPem = await readIfPresent(keyPath);
  let certificatePem = await readIfPresent(certificatePath);
  if (keyPem === null || certificatePem === null) {
    const created = await createCa();
    try {
      await writeFile(certificatePath, created.certificatePem, { flag: 'wx', mode: 0o644 });
      await writeFile(keyPath, created.keyPem, { flag: 'wx', mode: 0o600 });
      ({ keyPem, certificatePem } = created);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      keyPem = await readFile(keyPath, 'utf8');
      certificatePem = await readFile(certificatePath, 'utf8');
    }
  }
  await chmod(keyPath, 0o600);
  const certificate = new x509.X509Certificate(certificatePem);
  if (!new X509Certificate(certificatePem).checkPrivateKey(createPrivateKey(keyPem)))
    throw new Error(`the Workcell CA key in ${paths.privateDir} does not match its certificate`);
  await writeIfChanged(join(paths.publicDir, CA_FILES.certificate), certificatePem);
  const bundle = [...rootCertificates, certificatePem.trim()].join('\n') + '\n';
  await writeIfChanged(join(paths.publicDir, CA_FILES.bundle), bundle);
  return { certificatePem, privateKey: await importKey(keyPem), certificate };
}
