/**
 * Shared set-up of the API benchmarks (bench/api-latency.ts, bench/api-concurrency.ts): a real
 * Workcell host in this process (real Docker, the workspace image, the proxy) with the mock
 * model on loopback, a unique host id and data directory, and cleanup of every container it made.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startMockModel, type MockModel } from '../packages/mock-model/src/index.js';
import {
  createLogger,
  createWorkcell,
  resolveConfig,
  type ConfigInput,
  type Workcell,
} from '../packages/host/src/index.js';
import { removeDataDir } from '../test/support/host.js';
import { SseParser, type SseEvent } from '../test/support/sse.js';

const run = promisify(execFile);

export interface BenchHost {
  workcell: Workcell;
  url: string;
  mock: MockModel;
  api(path: string, init?: RequestInit): Promise<Response>;
  json<T>(path: string, init?: RequestInit): Promise<T>;
  conversation(): Promise<{ workspaceId: string; conversationId: string }>;
  close(): Promise<void>;
}

export async function startBenchHost(overrides: Partial<ConfigInput> = {}): Promise<BenchHost> {
  const dataDir = mkdtempSync(join(tmpdir(), 'workcell-bench-'));
  const token = `tok_${randomBytes(16).toString('hex')}`;
  const hostId = `bench-${randomBytes(4).toString('hex')}`;
  const mock = await startMockModel();
  const config = resolveConfig({
    port: 0,
    dataDir,
    apiTokens: `${token}=bench`,
    anthropicUpstream: mock.url,
    anthropicApiKey: 'sk-ant-bench-0123456789',
    warmPoolSize: 0,
    hostId,
    containerMemoryMb: 1024,
    rateLimitPerMinute: 0,
    logLevel: 'warn',
    ...overrides,
  });
  const workcell = await createWorkcell(config, {
    logger: createLogger(process.env.BENCH_LOG === '1' ? 'debug' : 'warn'),
  });
  const url = await workcell.listen();
  const api = (path: string, init: RequestInit = {}): Promise<Response> => {
    const headers = new Headers(init.headers);
    headers.set('authorization', `Bearer ${token}`);
    if (typeof init.body === 'string') headers.set('content-type', 'application/json');
    return fetch(`${url}${path}`, { ...init, headers });
  };
  const json = async <T>(path: string, init: RequestInit = {}): Promise<T> => {
    const res = await api(path, init);
    if (!res.ok) throw new Error(`${path} answered ${res.status}: ${await res.text()}`);
    return (await res.json()) as T;
  };
  return {
    workcell,
    url,
    mock,
    api,
    json,
    async conversation() {
      const ws = await json<{ id: string }>('/v1/workspaces', { method: 'POST', body: '{}' });
      const conv = await json<{ id: string }>(`/v1/workspaces/${ws.id}/conversations`, {
        method: 'POST',
        body: '{}',
      });
      return { workspaceId: ws.id, conversationId: conv.id };
    },
    async close() {
      await workcell.close(5_000).catch(() => undefined);
      const { stdout } = await run('docker', [
        'ps',
        '-aq',
        '--filter',
        `label=workcell.host=${hostId}`,
      ]).catch(() => ({ stdout: '' }));
      const ids = stdout.split('\n').filter(Boolean);
      if (ids.length > 0) await run('docker', ['rm', '-f', ...ids]).catch(() => undefined);
      await mock.close();
      // Slot volumes are loop-mounted: they are unmounted before the directory goes.
      await removeDataDir(dataDir);
    },
  };
}

/** Reads an SSE response, calling `onEvent` with each event and the ms since `started`. */
export async function readEvents(
  res: Response,
  started: number,
  onEvent: (e: SseEvent, ms: number) => void,
): Promise<SseEvent[]> {
  if (!res.body) throw new Error('no body');
  const parser = new SseParser();
  const decoder = new TextDecoder();
  const reader = res.body.getReader();
  const all: SseEvent[] = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return all;
    for (const e of parser.push(decoder.decode(value, { stream: true }))) {
      all.push(e);
      onEvent(e, performance.now() - started);
    }
  }
}

export function pct(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

export const round = (n: number, digits = 2): number => Number(n.toFixed(digits));
