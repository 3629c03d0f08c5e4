import { WorkcellError, type ExecRequest } from '@workcell/protocol';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Catalog } from '../../src/catalog/catalog.js';
import type {
  ExecChunk,
  ExecExitStatus,
  ExecProcess,
  ExecSpec,
} from '../../src/containers/runtime.js';
import { ExecService, type StartedExec } from '../../src/exec/exec-service.js';
import { workspaceLockName } from '../../src/state/leases.js';
import { MemoryStateStore } from '../../src/state/memory-store.js';
import { DirectoryObjectStore } from '../../src/storage/directory-store.js';
import { ManualClock } from '../../src/time/clock.js';
import { Workspaces } from '../../src/workspace/hold.js';
import { FakeOrchestrator, FakeSync } from '../execute/harness.js';

/** A command whose output is `chunks`, then ends by itself (`status`) or only when killed. */
class FakeProcess implements ExecProcess {
  kills = 0;
  private release: () => void = () => undefined;
  private readonly killed = new Promise<void>((resolve) => {
    this.release = resolve;
  });

  constructor(
    private readonly chunks: ExecChunk[],
    private readonly endsAlone: boolean,
    private readonly status: ExecExitStatus = { code: 0, signal: null },
  ) {}

  get output(): AsyncIterable<ExecChunk> {
    const { chunks, endsAlone, killed } = this;
    return (async function* () {
      for (const c of chunks) yield c;
      if (!endsAlone) await killed;
    })();
  }

  async wait(): Promise<ExecExitStatus> {
    return this.kills > 0 ? { code: null, signal: 'SIGKILL' } : this.status;
  }

  async kill(): Promise<void> {
    this.kills += 1;
    this.release();
  }
}

const out = (text: string): ExecChunk => ({ stream: 'stdout', data: Buffer.from(text) });

async function setup(options: { clock?: ManualClock } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'wc-exec-svc-'));
  const catalog = new Catalog(new DirectoryObjectStore({ root: dir }));
  const state = new MemoryStateStore();
  const containers = new FakeOrchestrator();
  const sync = new FakeSync();
  const specs: ExecSpec[] = [];
  let next: FakeProcess = new FakeProcess([out('hi\n')], true);
  let execError: Error | null = null;
  const clock = options.clock ?? new ManualClock();
  const ended: string[] = [];
  const service = new ExecService({
    catalog,
    workspaces: new Workspaces({
      containers,
      sync,
      state,
      clock,
      logger: pino({ level: 'silent' }),
      settings: { lockTtlMs: 30_000 },
    }),
    runtime: {
      exec: async (_id, spec) => {
        specs.push(spec);
        if (execError) throw execError;
        return next;
      },
    },
    clock,
    logger: pino({ level: 'silent' }),
    placeholders: async () => ({ WORKCELL_SECRET_API: 'wcs_x' }),
    agentEnv: async () => ({ TEAM: 'a', GREETING: 'agent' }),
    observer: {
      containerAcquired: () => undefined,
      execEnded: (outcome) => void ended.push(outcome),
    },
    settings: {
      timeoutMs: 10_000,
      env: { provider: 'anthropic', awsRegion: 'us-east-1' },
    },
  });
  const principal = { tenant: 'tenant-a', admin: false };
  const ws = await catalog.createWorkspace(principal.tenant, 'w');
  return {
    service,
    state,
    containers,
    sync,
    specs,
    ended,
    clock,
    principal,
    workspaceId: ws.id,
    setNext(p: FakeProcess) {
      next = p;
    },
    failExec(err: Error) {
      execError = err;
    },
    lease: () => state.getLeaseHolder(workspaceLockName(ws.id)),
    start: (request: ExecRequest): Promise<StartedExec> => service.start(principal, ws.id, request),
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}

type Setup = Awaited<ReturnType<typeof setup>>;
let s: Setup;
afterEach(() => s?.dispose());

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof WorkcellError) return err.code;
    throw err;
  }
  throw new Error('not refused');
}

describe('ExecService', () => {
  it('runs under the run lease: sync in, the agent environment, output, sync out, container back, lease free', async () => {
    s = await setup();
    const exec = await s.start({ command: ['echo', 'hi'], env: { GREETING: 'request' } });
    expect(await s.lease()).toBe(exec.id);
    const chunks: string[] = [];
    const end = await exec.run((c) => void chunks.push(c.data.toString()));
    expect(chunks).toEqual(['hi\n']);
    expect(end).toMatchObject({ exit: { code: 0, signal: null }, timedOut: false });
    expect(end.error).toBeUndefined();
    expect(s.containers.calls).toEqual(['acquire', 'beginRun', 'endRun']);
    expect(s.sync.calls).toEqual(['in', 'out']);
    expect(await s.lease()).toBeNull();
    const spec = s.specs[0];
    expect(spec?.argv).toEqual(['echo', 'hi']);
    expect(spec?.cwd).toBe('/workspace');
    expect(spec?.env).toMatchObject({
      TEAM: 'a',
      GREETING: 'request',
      WORKCELL_SECRET_API: 'wcs_x',
      HTTPS_PROXY: 'http://127.0.0.1:3128',
    });
  });

  it('answers workspace_busy while the workspace run lease is held, acquiring nothing', async () => {
    s = await setup();
    await s.state.acquireLease(workspaceLockName(s.workspaceId), 'run_other', 30_000);
    expect(await refusal(s.start({ command: ['true'] }))).toBe('workspace_busy');
    expect(s.containers.calls).toEqual([]);
    expect(await s.lease()).toBe('run_other');
  });

  it('refuses another tenant, a timeout over the maximum, and after shutdown', async () => {
    s = await setup();
    expect(
      await refusal(
        s.service.start({ tenant: 'tenant-b', admin: false }, s.workspaceId, {
          command: ['true'],
        }),
      ),
    ).toBe('not_found');
    expect(await refusal(s.start({ command: ['true'], timeoutMs: 10_001 }))).toBe(
      'validation_failed',
    );
    await s.service.shutdown(0);
    expect(await refusal(s.start({ command: ['true'] }))).toBe('shutting_down');
    expect(s.containers.calls).toEqual([]);
  });

  it('kills the command at its timeout and reports it', async () => {
    s = await setup();
    const proc = new FakeProcess([out('started\n')], false);
    s.setNext(proc);
    const exec = await s.start({ command: ['sleep', '100'], timeoutMs: 1000 });
    const ending = exec.run(() => undefined);
    await new Promise((resolve) => setImmediate(resolve));
    s.clock.advance(999);
    expect(proc.kills).toBe(0);
    s.clock.advance(1);
    const end = await ending;
    expect(proc.kills).toBe(1);
    expect(end).toMatchObject({ timedOut: true, exit: { code: null, signal: 'SIGKILL' } });
    expect(s.ended).toEqual(['timeout']);
    expect(s.sync.calls).toEqual(['in', 'out']);
    expect(await s.lease()).toBeNull();
  });

  it('kills the command when its client goes away', async () => {
    s = await setup();
    const proc = new FakeProcess([], false);
    s.setNext(proc);
    const exec = await s.start({ command: ['sleep', '100'] });
    const abort = new AbortController();
    const ending = exec.run(() => undefined, abort.signal);
    abort.abort();
    const end = await ending;
    expect(proc.kills).toBe(1);
    expect(end.timedOut).toBe(false);
    expect(await s.lease()).toBeNull();
  });

  it('releases the lease whatever refuses the command after it was taken', async () => {
    s = await setup();
    s.containers.acquireError = new Error('engine down');
    expect(await refusal(s.start({ command: ['true'] }))).toBe('container_start_failed');
    expect(await s.lease()).toBeNull();

    s.containers.acquireError = null;
    s.sync.inError = new Error('store down');
    expect(await refusal(s.start({ command: ['true'] }))).toBe('sync_failed');
    // A half-synced slot is not trusted.
    expect(s.containers.calls.at(-1)).toBe('remove');
    expect(await s.lease()).toBeNull();

    s.sync.inError = null;
    s.containers.beginResult = false;
    expect(await refusal(s.start({ command: ['true'] }))).toBe('container_failed');
    expect(await s.lease()).toBeNull();

    s.containers.beginResult = true;
    s.failExec(new Error('container gone'));
    s.containers.calls = [];
    expect(await refusal(s.start({ command: ['true'] }))).toBe('container_failed');
    expect(s.containers.calls).toEqual(['acquire', 'beginRun', 'endRun']);
    expect(await s.lease()).toBeNull();
  });

  it('reports a failed sync out and keeps the container for the next sync', async () => {
    s = await setup();
    s.sync.outError = new Error('store down');
    const exec = await s.start({ command: ['true'] });
    const end = await exec.run(() => undefined);
    expect(end.error?.code).toBe('sync_failed');
    expect(s.ended).toEqual(['failed']);
    expect(s.containers.calls).toEqual(['acquire', 'beginRun', 'endRun']);
    expect(await s.lease()).toBeNull();
  });

  it('kills commands still running when the shutdown deadline passes', async () => {
    const clock = new ManualClock();
    s = await setup({ clock });
    const proc = new FakeProcess([], false);
    s.setNext(proc);
    const exec = await s.start({ command: ['sleep', '100'] });
    const ending = exec.run(() => undefined);
    // The deadline is the host clock's.
    const shutdown = s.service.shutdown(50);
    await clock.advanceAsync(50);
    await shutdown;
    expect(proc.kills).toBe(1);
    expect((await ending).timedOut).toBe(false);
    expect(s.service.activeExecs).toBe(0);
  });
});
