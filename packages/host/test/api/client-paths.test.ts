import { WorkcellClient } from '@workcell/client';
import { describe, expect, it } from 'vitest';
import { OPERATIONS, ops } from '../../src/api/contract.js';

interface Call {
  /** Where the client's call starts, e.g. `files.upload`. */
  caller: string;
  method: string;
  path: string;
}

/** The client's helpers behind its calls (its transport is a base class): not calls of their own. */
const HELPERS = new Set(['constructor', 'stream', 'execStream', 'putSecret']);

type Fn = (...args: unknown[]) => unknown;

/** A contract path as a pattern: `:param` is one segment, a trailing `*` the rest of the path. */
const pattern = (path: string): RegExp =>
  new RegExp(`^${path.replace(/:[A-Za-z0-9_]+/g, '[^/]+').replace(/\*$/, '.+')}$`);

const CONTRACT = OPERATIONS.map((o) => ({ id: o.id, method: o.method, path: pattern(o.path) }));

/**
 * Calls every public method of a client whose fetch records each request and answers 404, and
 * answers the requests made, by the method that made them. A method's arguments are plain
 * strings: ids, paths and bodies alike, since only the request line matters here.
 */
async function driveClient(): Promise<{ calls: Call[]; silent: string[] }> {
  const calls: Call[] = [];
  let caller = '';
  const recording: typeof fetch = (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    calls.push({ caller, method: init?.method ?? 'GET', path: url.pathname });
    return Promise.resolve(
      Response.json({ error: { code: 'not_found', message: 'recorded' } }, { status: 404 }),
    );
  };
  const client = new WorkcellClient({
    baseUrl: 'http://client-paths.test',
    token: 'wc_test',
    fetch: recording,
  });

  const silent: string[] = [];
  const invoke = async (name: string, fn: Fn): Promise<void> => {
    caller = name;
    const before = calls.length;
    const result = fn('arg1', 'arg2', 'arg3', 'arg4');
    if (typeof result === 'string') {
      // The terminal's WebSocket URL: the browser opens it with a GET upgrade.
      calls.push({ caller, method: 'GET', path: new URL(result).pathname });
    } else if (result instanceof Promise) {
      await result.catch(() => undefined);
    } else if (result !== null && typeof result === 'object' && Symbol.asyncIterator in result) {
      const iterator = (result as AsyncIterable<unknown>)[Symbol.asyncIterator]();
      await iterator.next().catch(() => undefined);
      await iterator.return?.().catch(() => undefined);
    } else if (result !== null && typeof result === 'object') {
      // A view with an id bound (`client.conversation(cid)`): its methods are calls too.
      await walk(name, result);
      return;
    }
    if (calls.length === before) silent.push(name);
  };
  const walk = async (prefix: string, target: object): Promise<void> => {
    for (const [key, value] of Object.entries(target)) {
      const name = `${prefix}.${key}`;
      if (typeof value === 'function') await invoke(name, (value as Fn).bind(target));
      else if (value !== null && typeof value === 'object') await walk(name, value);
    }
  };

  for (const [key, value] of Object.entries(client)) {
    if (value !== null && typeof value === 'object' && !HELPERS.has(key)) await walk(key, value);
  }
  for (const key of Object.getOwnPropertyNames(WorkcellClient.prototype)) {
    if (HELPERS.has(key)) continue;
    const value = (client as unknown as Record<string, unknown>)[key];
    if (typeof value === 'function') await invoke(key, (value as Fn).bind(client));
  }
  return { calls, silent };
}

describe('the client against the contract', () => {
  it('calls only paths the contract has, each with the method the contract gives it', async () => {
    const { calls, silent } = await driveClient();
    expect(silent).toEqual([]);
    // Every resource of the client was reached, not a handful of methods.
    expect(new Set(calls.map((c) => c.caller)).size).toBeGreaterThan(40);

    const unknown = calls
      .filter((c) => !CONTRACT.some((o) => o.method === c.method && o.path.test(c.path)))
      .map((c) => `${c.caller}: ${c.method} ${c.path}`);
    expect(unknown).toEqual([]);
  });

  it('names each operation once, under its id', () => {
    for (const [key, operation] of Object.entries(ops)) expect(operation.id).toBe(key);
    const lines = OPERATIONS.map((o) => `${o.method} ${o.path}`);
    expect(new Set(lines).size).toBe(lines.length);
  });
});
