/**
 * A Workcell host as a child process, for fault tests that kill it (`kill -9`) and start another:
 * `node --import tsx --import ./test/orchestrator/register-aliases.mjs test/orchestrator/host-process.ts`.
 * The configuration comes from WORKCELL_* variables; with `serve` it runs the in-process mock
 * model and prints one JSON line `{"url": ...}` once it listens (after reconciling), and shuts
 * down gracefully on SIGTERM; with any other arguments it runs the `workcell` command line.
 */
import { createLogger, createWorkcell, loadConfig } from '@workcell/host';
import { main as cliMain } from '../../packages/host/src/cli/main.js';

const [command] = process.argv.slice(2);
if (command === 'serve') {
  const config = loadConfig();
  const workcell = await createWorkcell(config, {
    logger: createLogger(config.logLevel, process.stderr),
    mockModel: true,
  });
  const url = await workcell.listen();
  // SIGTERM shuts down as `workcell serve` does: no new work, runs handed over or finished.
  process.once('SIGTERM', () => {
    workcell.close(config.shutdownTimeoutMs).then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
  process.stdout.write(`${JSON.stringify({ url, pid: process.pid })}\n`);
} else {
  process.exitCode = (await cliMain(process.argv.slice(2))) ?? 0;
}
