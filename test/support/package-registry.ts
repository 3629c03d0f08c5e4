import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A fixture package served by the registry: the npm package and the Python module share it. */
export interface FixturePackage {
  /** npm package name, pip distribution name and Python module name. */
  name: string;
  version: string;
  /** What `require(name).value` and `<module>.VALUE` are. */
  value: string;
  /** Where the npm packument sends the tarball (default: this registry). */
  tarballBase?: string;
}

/**
 * A package registry on loopback for system tests: a minimal npm registry (packuments and
 * tarballs made by `npm pack`) and a PEP 503 simple index (wheels built here), counting every
 * request it answers.
 */
export interface PackageRegistry {
  /** `http://localhost:<port>`: the npm registry. */
  npmUrl: string;
  /** `http://localhost:<port>/simple`: the pip index. */
  pipUrl: string;
  port: number;
  /** Every request's path, in order. */
  requests: string[];
  close(): Promise<void>;
}

async function npmTarball(dir: string, pkg: FixturePackage): Promise<Buffer> {
  const src = join(dir, `npm-${pkg.name}`);
  mkdirSync(src, { recursive: true });
  writeFileSync(
    join(src, 'package.json'),
    JSON.stringify({ name: pkg.name, version: pkg.version, main: 'index.js', license: 'MIT' }),
  );
  writeFileSync(
    join(src, 'index.js'),
    `module.exports = { value: ${JSON.stringify(pkg.value)} };\n`,
  );
  const { stdout } = await run('npm', ['pack', '--silent', '--pack-destination', dir], {
    cwd: src,
  });
  return readFileSync(join(dir, stdout.trim().split('\n').at(-1) ?? ''));
}

/** A pure-Python wheel holding module `name` with `VALUE`. */
async function wheel(dir: string, pkg: FixturePackage): Promise<{ file: string; bytes: Buffer }> {
  const file = `${pkg.name}-${pkg.version}-py3-none-any.whl`;
  const script = `
import base64, hashlib, sys, zipfile
name, version, value, out = sys.argv[1:5]
info = f"{name}-{version}.dist-info"
files = {
  f"{name}/__init__.py": f"VALUE = {value!r}\\n",
  f"{info}/METADATA": f"Metadata-Version: 2.1\\nName: {name}\\nVersion: {version}\\n",
  f"{info}/WHEEL": "Wheel-Version: 1.0\\nGenerator: workcell-test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
}
record = []
with zipfile.ZipFile(out, "w") as z:
  for path, text in files.items():
    data = text.encode()
    z.writestr(path, data)
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    record.append(f"{path},sha256={digest},{len(data)}")
  record.append(f"{info}/RECORD,,")
  z.writestr(f"{info}/RECORD", "\\n".join(record) + "\\n")
`;
  const out = join(dir, file);
  await run('python3', ['-c', script, pkg.name, pkg.version, pkg.value, out]);
  return { file, bytes: readFileSync(out) };
}

function integrity(bytes: Buffer): { shasum: string; integrity: string } {
  return {
    shasum: createHash('sha1').update(bytes).digest('hex'),
    integrity: `sha512-${createHash('sha512').update(bytes).digest('base64')}`,
  };
}

/** Starts the registry on 127.0.0.1 serving `packages`; reach it as `localhost:<port>`. */
export async function startPackageRegistry(
  packages: readonly FixturePackage[],
): Promise<PackageRegistry> {
  const dir = mkdtempSync(join(tmpdir(), 'workcell-registry-'));
  const requests: string[] = [];
  const routes = new Map<string, { type: string; body: Buffer | (() => Buffer) }>();
  const server: Server = createServer((req: IncomingMessage, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    requests.push(path);
    const route = routes.get(decodeURIComponent(path));
    if (!route) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
      return;
    }
    const body = typeof route.body === 'function' ? route.body() : route.body;
    res.writeHead(200, { 'content-type': route.type, 'content-length': body.length }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const base = `http://localhost:${port}`;
  for (const pkg of packages) {
    const tgz = await npmTarball(dir, pkg);
    const tarballName = `${pkg.name}-${pkg.version}.tgz`;
    routes.set(`/${pkg.name}/-/${tarballName}`, { type: 'application/octet-stream', body: tgz });
    const packument = {
      name: pkg.name,
      'dist-tags': { latest: pkg.version },
      versions: {
        [pkg.version]: {
          name: pkg.name,
          version: pkg.version,
          main: 'index.js',
          dist: {
            tarball: `${pkg.tarballBase ?? base}/${pkg.name}/-/${tarballName}`,
            ...integrity(tgz),
          },
        },
      },
    };
    routes.set(`/${pkg.name}`, {
      type: 'application/json',
      body: Buffer.from(JSON.stringify(packument)),
    });
    const whl = await wheel(dir, pkg);
    routes.set(`/files/${whl.file}`, { type: 'application/octet-stream', body: whl.bytes });
    const sha = createHash('sha256').update(whl.bytes).digest('hex');
    const page = `<!DOCTYPE html><html><body><a href="/files/${whl.file}#sha256=${sha}">${whl.file}</a></body></html>`;
    routes.set(`/simple/${pkg.name}/`, { type: 'text/html', body: Buffer.from(page) });
  }
  return {
    npmUrl: base,
    pipUrl: `${base}/simple`,
    port,
    requests,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
