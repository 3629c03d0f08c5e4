import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import type { ChildHost } from '../orchestrator/child-host.js';

/**
 * The environment that lets `settledMemory` reach a host process: its inspector on a free
 * loopback port (the host prints the address on stderr).
 */
export const INSPECTABLE_ENV = { NODE_OPTIONS: '--inspect=127.0.0.1:0' };

/** Each inspectable host's inspector address, read while its first lines are still kept. */
const inspectors = new WeakMap<ChildHost, string>();

/**
 * Reads the inspector address a host started with `INSPECTABLE_ENV` printed; call it right
 * after the host starts (a busy host's kept stderr drops its first lines).
 */
export function rememberInspector(host: ChildHost): void {
  const url = /Debugger listening on (ws:\/\/\S+)/.exec(host.stderr())?.[1];
  if (!url) throw new Error('the host was not started with its inspector');
  inspectors.set(host, url);
}

/** A host's memory once a full garbage collection has run: V8 heap in use and resident set. */
export interface SettledMemory {
  heapUsedKb: number;
  rssKb: number;
}

function rssKb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
  if (!kb) throw new Error(`no VmRSS for ${pid}`);
  return Number(kb);
}

/**
 * Forces full garbage collections in a host started with `INSPECTABLE_ENV` whose inspector
 * was remembered (`rememberInspector`) (through its
 * inspector: `HeapProfiler.collectGarbage`), then reads its heap in use and resident set, so
 * garbage not yet collected does not count as growth.
 */
export async function settledMemory(host: ChildHost): Promise<SettledMemory> {
  const url = inspectors.get(host);
  const pid = host.child.pid;
  if (!url || pid === undefined) throw new Error('no inspector remembered for the host');
  const ws = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  let next = 0;
  const call = (method: string): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      next += 1;
      const id = next;
      const onMessage = (raw: WebSocket.RawData): void => {
        const reply = JSON.parse(raw.toString()) as {
          id?: number;
          result?: Record<string, unknown>;
          error?: { message: string };
        };
        if (reply.id !== id) return;
        ws.off('message', onMessage);
        if (reply.error) reject(new Error(`${method}: ${reply.error.message}`));
        else resolve(reply.result ?? {});
      };
      ws.on('message', onMessage);
      ws.send(JSON.stringify({ id, method }));
    });
  try {
    for (let i = 0; i < 3; i += 1) await call('HeapProfiler.collectGarbage');
    const usage = await call('Runtime.getHeapUsage');
    return { heapUsedKb: Math.round(Number(usage.usedSize) / 1024), rssKb: rssKb(pid) };
  } finally {
    ws.close();
  }
}
