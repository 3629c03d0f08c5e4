/**
 * The proxy and the raw relay in a process of their own, as the proxy runs in the host process
 * apart from the container's client and the upstream. Started by bench/proxy-throughput.ts with
 * the upstream port as its argument; prints one JSON line `{proxy, relay}` (socket paths) once
 * listening and stops on SIGTERM.
 */
import { startBenchProxy, startRawRelay } from './proxy-support.js';

const upstreamPort = Number(process.argv[2]);
const proxy = await startBenchProxy(upstreamPort);
const relay = await startRawRelay(upstreamPort);
process.stdout.write(`${JSON.stringify({ proxy: proxy.socketPath, relay: relay.socketPath })}\n`);
process.once('SIGTERM', () => {
  void Promise.all([proxy.close(), relay.close()]).then(() => process.exit(0));
});
