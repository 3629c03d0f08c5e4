import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startBenchProxy, startRawRelay } from './proxy-support.js';
const TOTAL = 128 * 1024 * 1024; const CHUNK = Buffer.alloc(65536, 'x');
const up = createServer((req, res) => { req.resume(); res.writeHead(200); let sent = 0; const pump = () => { while (sent < TOTAL) { sent += CHUNK.length; if (!res.write(CHUNK)) { res.once('drain', pump); return; } } res.end(); }; pump(); });
await new Promise<void>((r) => up.listen(0, '127.0.0.1', r));
const port = (up.address() as AddressInfo).port;
const proxy = await startBenchProxy(port); const relay = await startRawRelay(port);
const res: Record<string, number[]> = { relay: [], route: [] };
for (let i = 0; i < 5; i++) for (const [name, sp, path] of [['relay', relay.socketPath, '/'], ['route', proxy.socketPath, '/_workcell/anthropic/v1/x']] as const) {
  const t = performance.now();
  await new Promise<void>((resolve) => { const req = request({ socketPath: sp, path, method: 'POST', agent: false, headers: { Host: 'x', 'Content-Length': '2' } }, (r) => { r.resume(); r.on('end', () => resolve()); }); req.end('{}'); });
  res[name]!.push(performance.now() - t);
}
const med = (a: number[]) => [...a].sort((x, y) => x - y)[2]!;
console.log('relay', Math.round(med(res.relay!)), 'route', Math.round(med(res.route!)), 'ratio', (med(res.relay!) / med(res.route!)).toFixed(2));
await proxy.close(); await relay.close(); up.closeAllConnections(); up.close();
