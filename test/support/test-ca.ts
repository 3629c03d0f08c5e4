import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A throwaway certificate authority and one server certificate it issued, made with openssl. */
export interface TestCa {
  dir: string;
  /** PEM of the test CA (what the proxy trusts through WORKCELL_UPSTREAM_CA_FILE). */
  caPem: string;
  caFile: string;
  /** The server's key and certificate (for https.createServer). */
  key: string;
  cert: string;
  remove(): void;
}

function openssl(cwd: string, ...args: string[]): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/**
 * A test CA and a server certificate for `names` (DNS names, or IP literals), as an API's own
 * PKI would be: nothing of Workcell's signs it.
 */
export function makeTestCa(
  names: readonly string[],
  commonName = 'Workcell Test Upstream CA',
): TestCa {
  const dir = mkdtempSync(join(tmpdir(), 'workcell-test-ca-'));
  openssl(dir, 'ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'ca.key');
  openssl(
    dir,
    'req',
    '-x509',
    '-new',
    '-key',
    'ca.key',
    '-sha256',
    '-days',
    '2',
    '-subj',
    `/CN=${commonName}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign',
    '-out',
    'ca.crt',
  );
  openssl(dir, 'ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'server.key');
  openssl(
    dir,
    'req',
    '-new',
    '-key',
    'server.key',
    '-subj',
    `/CN=${names[0] ?? 'localhost'}`,
    '-out',
    'server.csr',
  );
  const san = names.map((n) => (/^[\d.]+$|:/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
  writeFileSync(
    join(dir, 'ext.cnf'),
    `subjectAltName=${san}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n`,
  );
  openssl(
    dir,
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '2',
    '-sha256',
    '-extfile',
    'ext.cnf',
    '-out',
    'server.crt',
  );
  const read = (f: string): string => readFileSync(join(dir, f), 'utf8');
  return {
    dir,
    caPem: read('ca.crt'),
    caFile: join(dir, 'ca.crt'),
    key: read('server.key'),
    cert: read('server.crt'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
