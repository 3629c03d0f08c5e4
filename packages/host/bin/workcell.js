#!/usr/bin/env node
// Runs the built command line (dist/cli/main.js). Before a build, or without installed
// dependencies, it says what to run instead of printing a stack trace. On a Node older than the
// supported LTS in image/node-version, it runs itself again on that Node when the set-up
// (scripts/host-node.sh) has staged it, forwarding signals and the exit status.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const wanted = (() => {
  try {
    return readFileSync(`${root}image/node-version`, 'utf8').trim();
  } catch {
    return null;
  }
})();
const staged = wanted && `${root}image/.cache/node-${wanted}/node`;
const major = (v) => Number(String(v).split('.')[0]);
if (
  wanted &&
  major(process.versions.node) < major(wanted) &&
  existsSync(staged) &&
  !process.env.WORKCELL_NODE_REEXEC
) {
  const child = spawn(staged, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, WORKCELL_NODE_REEXEC: '1' },
  });
  // Ctrl-C reaches the child from the terminal itself (same process group): forwarding SIGINT
  // would deliver it twice. SIGTERM and SIGHUP are sent to this process by pid: passed on.
  process.on('SIGINT', () => undefined);
  for (const signal of ['SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => {
    if (signal) {
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
    } else process.exit(code ?? 1);
  });
} else {
  await run();
}

async function run() {
  let cli;
  try {
    cli = await import('../dist/cli/main.js');
  } catch (err) {
    if (err && err.code === 'ERR_MODULE_NOT_FOUND') {
      const notBuilt = String(err.message).includes('/dist/');
      console.error(
        notBuilt
          ? 'workcell: the command line is not built yet; run `npm run build` in the repository (or `npm start`, which installs, builds and serves)'
          : 'workcell: dependencies are missing; run `npm ci` in the repository, then `npm run build`',
      );
      process.exit(1);
    }
    throw err;
  }

  cli.main(process.argv.slice(2)).then(
    (code) => {
      if (typeof code === 'number') process.exitCode = code;
    },
    (err) => {
      console.error(`workcell: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
}
