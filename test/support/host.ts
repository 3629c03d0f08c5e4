import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { mountPoints } from '../../packages/host/src/containers/slot-volume.js';
import { startMockModel, type MockModel, type MockModelOptions } from '@workcell/mock-model';
import {
  resolveConfig,
  createWorkcell,
  createLogger,
  type Workcell,
  type ConfigInput,
  type WorkcellOptions,
} from '@workcell/host';
import { apiClient, dataOf, type ApiClient } from './client.js';

export { dataOf };

export const execFileAsync = promisify(execFile);

/** Runs the docker CLI and answers stdout. */
export async function docker(...args: string[]): Promise<string> {
  const { stdout } = await execFileAsync('docker', args, { maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

export interface TestHost extends ApiClient {
  workcell: Workcell;
  url: string;
  token: string;
  tenant: string;
  mock: MockModel;
  dataDir: string;
  /** Log lines the host wrote (JSON strings), for secret greps. */
  logs: string[];
  close(): Promise<void>;
}

/**
 * A real Workcell host for system tests: real Docker, the real workspace image, the real proxy,
 * and a mock model on loopback as the Anthropic upstream. Unique data directory, host id and
 * tokens per host; `close()` removes every container it made.
 */
export async function startTestHost(
  overrides: Partial<ConfigInput> & {
    tokens?: Record<string, string>;
    mock?: MockModelOptions;
    options?: WorkcellOptions;
    dataDir?: string;
    token?: string;
    tenant?: string;
  } = {},
): Promise<TestHost> {
  const {
    tokens: extraTokens,
    mock: mockOptions,
    options: workcellOptions,
    dataDir: sharedDataDir,
    token: fixedToken,
    tenant: fixedTenant,
    ...configOverrides
  } = overrides;
  const dataDir = sharedDataDir ?? mkdtempSync(join(tmpdir(), 'workcell-test-'));
  const token = fixedToken ?? `tok_${randomBytes(16).toString('hex')}`;
  const tenant = fixedTenant ?? `t${randomBytes(4).toString('hex')}`;
  const mock = await startMockModel(mockOptions);
  const logs: string[] = [];
  const logger = createLogger('debug', {
    write: (line: string) => {
      logs.push(line);
      if (process.env.WORKCELL_TEST_LOGS) process.stderr.write(line);
    },
  });
  const tokenList = [
    `${token}=${tenant}`,
    ...Object.entries(extraTokens ?? {}).map(([k, v]) => `${k}=${v}`),
  ].join(',');
  const config = resolveConfig({
    port: 0,
    host: '127.0.0.1',
    dataDir,
    apiTokens: tokenList,
    anthropicApiKey: `sk-ant-test-${randomBytes(16).toString('hex')}`,
    anthropicUpstream: mock.url,
    bedrockUpstream: mock.url,
    warmPoolSize: 0,
    hostId: `test-${randomBytes(4).toString('hex')}`,
    containerMemoryMb: 1024,
    // A checkout testing its own build of the workspace image names it here.
    ...(process.env.WORKCELL_IMAGE ? { image: process.env.WORKCELL_IMAGE } : {}),
    ...configOverrides,
  });
  const workcell = await createWorkcell(config, { logger, ...workcellOptions });
  const url = await workcell.listen();

  const client = apiClient(url, token);

  return {
    workcell,
    url,
    token,
    tenant,
    mock,
    dataDir,
    logs,
    ...client,
    async close() {
      const records = await workcell.state.listContainers().catch(() => []);
      await workcell.close(5_000).catch(() => undefined);
      for (const r of records) await workcell.runtime.remove(r.id).catch(() => undefined);
      const leftovers = await docker(
        'ps',
        '-aq',
        '--filter',
        `label=workcell.host=${config.hostId}`,
      ).catch(() => '');
      for (const id of leftovers.split('\n').filter(Boolean))
        await docker('rm', '-f', id).catch(() => '');
      await mock.close();
      // Every container is gone: their workspace volumes go too, before the directory does.
      await unmountUnder(dataDir);
      if (!sharedDataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Removes a data directory, unmounting the slot volumes in it first. */
export async function removeDataDir(dir: string): Promise<void> {
  await unmountUnder(dir);
  rmSync(dir, { recursive: true, force: true });
}

/** Unmounts every mount below `dir` (slot volumes left by removed containers). */
export async function unmountUnder(dir: string): Promise<void> {
  const points = (await mountPoints()).filter((point) => point.startsWith(`${dir}/`));
  for (const point of points) await execFileAsync('umount', ['-l', point]).catch(() => undefined);
}

/** The tool_use blocks of every assistant message in a run. */
export function toolUses(
  events: readonly { event: string; data: unknown }[],
): { name: string; input: Record<string, unknown> }[] {
  const out: { name: string; input: Record<string, unknown> }[] = [];
  for (const m of dataOf<{ type: string; message?: { content?: unknown } }>(events, 'message')) {
    if (m.type !== 'assistant' || !Array.isArray(m.message?.content)) continue;
    for (const block of m.message.content as {
      type: string;
      name?: string;
      input?: Record<string, unknown>;
    }[]) {
      if (block.type === 'tool_use' && block.name)
        out.push({ name: block.name, input: block.input ?? {} });
    }
  }
  return out;
}
