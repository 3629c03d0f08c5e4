/**
 * The proxy and the raw relay in a process of their own, as the proxy runs apart from the
 * container's client and the upstream. Started by bench/proxy-throughput.ts with the upstream
 * port and the isolation (`inline`: the proxy in this process; `process`: this process is the
 * host's side, `ProcessEgressGateway`, and the proxy runs in the process it forks, as with
 * WORKCELL_PROXY_ISOLATION=process) as its arguments; prints one JSON line `{proxy, relay}`
 * (socket paths) once listening and stops on SIGTERM.
 */
import { startBenchProxy, startProcessBenchProxy, startRawRelay } from './proxy-support.js';

const upstreamPort = Number(process.argv[2]);
const isolation = process.argv[3] ?? 'inline';
const proxy =
  isolation === 'process'
    ? await startProcessBenchProxy(upstreamPort)
    : await startBenchProxy(upstreamPort);
const relay = await startRawRelay(upstreamPort);
process.stdout.write(`${JSON.stringify({ proxy: proxy.socketPath, relay: relay.socketPath })}\n`);
process.once('SIGTERM', () => {
  void Promise.all([proxy.close(), relay.close()]).then(() => process.exit(0));
});
