/**
 * The proxy process: started by the host with `child_process.fork` and an IPC channel
 * (`proxyProcessCommand()`), built from the host's `init` message and driven by its requests.
 * It reads no setting of its own: no WORKCELL_* variable, no key on its command line.
 */
import type { ParentMessage } from './messages.js';
import { ProxyWorker } from './worker.js';

const send = process.send?.bind(process);
if (!send) {
  process.stderr.write('the proxy process runs only as a child of the Workcell host (IPC)\n');
  process.exit(2);
}

/** Messages handed to the channel and not yet written; an exit waits for them. */
let unsent = 0;
let exitCode: number | null = null;
const exitWhenSent = (): void => {
  if (exitCode !== null && unsent === 0) process.exit(exitCode);
};

const worker = new ProxyWorker(
  (message) => {
    // A closed channel means the host is gone; the disconnect handler below ends this process.
    if (!process.connected) return;
    unsent += 1;
    send(message, undefined, undefined, () => {
      unsent -= 1;
      exitWhenSent();
    });
  },
  (code) => {
    exitCode = code;
    exitWhenSent();
  },
);
process.on('message', (message: ParentMessage) => worker.handle(message));
// The host is gone (its end of the channel closed): no listener may outlive it.
process.on('disconnect', () => process.exit(0));
