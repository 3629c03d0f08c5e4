import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * An HTTPS API stand-in for secrets tests, with its own certificate: `/api/check` answers
 * whether the bearer token is the expected one (never echoing it); `/git/<repo>` is a smart-HTTP
 * git server (`git http-backend`) that wants Basic credentials with the token as password.
 */
export interface SecretUpstream {
  port: number;
  /** The value the server accepts now (a rotation test changes it). */
  expected: string;
  /** Every Authorization header the server received, in order. */
  authorizations: string[];
  /** Requests received (any path). */
  requests: number;
  /** The file the cloned repository carries. */
  readme: string;
  close(): Promise<void>;
}

function git(cwd: string, ...args: string[]): void {
  execFileSync('git', args, {
    cwd,
    stdio: 'ignore',
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 't',
      GIT_AUTHOR_EMAIL: 't@example.org',
      GIT_COMMITTER_NAME: 't',
      GIT_COMMITTER_EMAIL: 't@example.org',
    },
  });
}

/** Answers one request through `git http-backend` (CGI), streaming both bodies. */
function gitBackend(root: string, req: IncomingMessage, res: ServerResponse, user: string): void {
  const url = new URL(req.url ?? '/', 'https://x');
  const child = spawn('git', ['http-backend'], {
    env: {
      PATH: process.env.PATH,
      GIT_PROJECT_ROOT: root,
      GIT_HTTP_EXPORT_ALL: '1',
      PATH_INFO: url.pathname.replace(/^\/git/, ''),
      QUERY_STRING: url.search.replace(/^\?/, ''),
      REQUEST_METHOD: req.method ?? 'GET',
      CONTENT_TYPE: req.headers['content-type'] ?? '',
      HTTP_CONTENT_ENCODING: req.headers['content-encoding'] ?? '',
      HTTP_GIT_PROTOCOL: String(req.headers['git-protocol'] ?? ''),
      REMOTE_USER: user,
      REMOTE_ADDR: '127.0.0.1',
    },
  });
  req.pipe(child.stdin);
  let head = Buffer.alloc(0);
  let started = false;
  child.stdout.on('data', (chunk: Buffer) => {
    if (started) {
      res.write(chunk);
      return;
    }
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf('\r\n\r\n');
    if (end < 0) return;
    started = true;
    let status = 200;
    for (const line of head.subarray(0, end).toString('latin1').split('\r\n')) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).trim();
      const value = line.slice(colon + 1).trim();
      if (name.toLowerCase() === 'status') status = Number(value.split(' ')[0]);
      else res.setHeader(name, value);
    }
    res.writeHead(status);
    res.write(head.subarray(end + 4));
  });
  child.stdout.on('end', () => res.end());
  child.on('error', () => res.destroy());
}

export async function startSecretUpstream(options: {
  key: string;
  cert: string;
  expected: string;
  host?: string;
}): Promise<SecretUpstream> {
  const root = mkdtempSync(join(tmpdir(), 'workcell-git-'));
  const work = join(root, 'work');
  const readme = `hello from a private repository ${Date.now()}\n`;
  git(root, 'init', '-q', '--bare', '-b', 'main', 'repo.git');
  git(root, 'init', '-q', '-b', 'main', work);
  writeFileSync(join(work, 'README'), readme);
  git(work, 'add', 'README');
  git(work, 'commit', '-q', '-m', 'first');
  git(work, 'push', '-q', join(root, 'repo.git'), 'main');

  const state: SecretUpstream = {
    port: 0,
    expected: options.expected,
    authorizations: [],
    requests: 0,
    readme,
    close: async () => undefined,
  };
  const server: Server = createServer({ key: options.key, cert: options.cert }, (req, res) => {
    state.requests += 1;
    const auth = req.headers.authorization ?? '';
    state.authorizations.push(auth);
    if (req.url?.startsWith('/api/')) {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ authorized: auth === `Bearer ${state.expected}` }));
      return;
    }
    if (req.url?.startsWith('/git/')) {
      const basic = /^Basic (.+)$/.exec(auth);
      const [user, password] = basic
        ? Buffer.from(basic[1] ?? '', 'base64')
            .toString()
            .split(':')
        : [];
      if (password !== state.expected) {
        res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="git"' });
        res.end('authentication required');
        return;
      }
      gitBackend(root, req, res, user ?? 'git');
      return;
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, options.host ?? '127.0.0.1', r));
  state.port = (server.address() as AddressInfo).port;
  state.close = async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    rmSync(root, { recursive: true, force: true });
  };
  return state;
}
