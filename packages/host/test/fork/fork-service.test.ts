import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkcellError } from '@workcell/protocol';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Catalog } from '../../src/catalog/catalog.js';
import { ForkService } from '../../src/fork/fork-service.js';
import { SecretStore } from '../../src/secrets/secret-store.js';
import { Snapshots } from '../../src/snapshots/snapshots.js';
import { DirectoryObjectStore } from '../../src/storage/directory-store.js';
import type { ObjectStore } from '../../src/storage/object-store.js';
import { tenantBlobs } from '../../src/sync/content.js';
import * as layout from '../../src/storage/layout.js';
import { putWorkspaceFile } from '../../src/sync/workspace-files.js';
import { ManualClock } from '../../src/time/clock.js';

const TENANT = 't1';
const logger = pino({ level: 'silent' });

/** The store, with a hook called before each `put` (the hook may act on the real store). */
function hooked(store: ObjectStore, beforePut: (key: string) => Promise<void>): ObjectStore {
  return new Proxy(store, {
    get(target, name, receiver) {
      if (name === 'put')
        return async (key: string, ...rest: unknown[]) => {
          await beforePut(key);
          return (target.put as (...a: unknown[]) => Promise<unknown>).call(target, key, ...rest);
        };
      const value: unknown = Reflect.get(target, name, receiver);
      return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
    },
  });
}

describe('a workspace fork that fails part-way', () => {
  let base: string;
  let store: DirectoryObjectStore;
  const clock = new ManualClock(1_700_000_000_000);

  beforeEach(async () => {
    base = await mkdtemp(join(tmpdir(), 'wc-fork-'));
    store = new DirectoryObjectStore({ root: base });
  });
  afterEach(async () => {
    await rm(base, { recursive: true, force: true });
  });

  const busy = <T>(): Promise<T> =>
    Promise.reject(new WorkcellError('workspace_busy', 'a run holds the workspace'));
  const service = (
    objects: ObjectStore,
    lock: <T>(wid: string, work: () => Promise<T>) => Promise<T> = (_wid, work) => work(),
  ) => {
    const catalog = new Catalog(objects, clock);
    const snapshots = new Snapshots(objects, {
      keep: 10,
      clock,
      logger,
      withWorkspaceLock: lock,
    });
    return {
      catalog,
      snapshots,
      forks: new ForkService({
        store: objects,
        catalog,
        snapshots,
        secrets: new SecretStore(null, objects, logger),
        withWorkspaceLock: lock,
        filesChanged: () => Promise.resolve(),
        clock,
        logger,
      }),
    };
  };

  it('answers not_found and leaves nothing when the source is deleted while it is copied', async () => {
    const plain = service(store);
    const source = await plain.catalog.createWorkspace(TENANT, 'source');
    await plain.catalog.createConversation(TENANT, source.id, 'one');
    await plain.catalog.createConversation(TENANT, source.id, 'two');
    await putWorkspaceFile({
      store,
      filesPrefix: layout.workspaceFilesPrefix(TENANT, source.id),
      manifestKey: layout.workspaceManifestKey(TENANT, source.id),
      blobs: tenantBlobs(TENANT),
      path: 'a.txt',
      body: Buffer.from('a\n'),
      maxFileBytes: 1024,
    });
    await plain.snapshots.take(TENANT, source.id);

    // The source goes as soon as the fork has stored its first conversation.
    let deleted = false;
    const racing = service(
      hooked(store, async (key) => {
        if (deleted || key.includes(source.id) || !key.includes('/conversations/')) return;
        deleted = true;
        await plain.catalog.deleteWorkspace(TENANT, source.id);
      }),
    );
    const failed = await racing.forks.forkWorkspace(TENANT, source.id, {}).then(
      () => null,
      (err: unknown) => err,
    );
    expect(deleted).toBe(true);
    expect(failed).toBeInstanceOf(WorkcellError);
    expect((failed as WorkcellError).code).toBe('not_found');

    // No workspace, index entry, list entry, conversation index entry or hold is left.
    const left = (await store.list(layout.tenantRoot(TENANT)))
      .map((o) => o.key)
      .filter((k) => !k.startsWith(layout.blobsPrefix(TENANT)) && !k.endsWith('.ready'));
    expect(left).toEqual([]);
    expect(await plain.catalog.listWorkspaces(TENANT)).toEqual([]);
  });

  it('publishes the fork only once all of it is stored', async () => {
    const plain = service(store);
    const source = await plain.catalog.createWorkspace(TENANT, 'source');
    const conversation = await plain.catalog.createConversation(TENANT, source.id, 'one');
    await plain.snapshots.take(TENANT, source.id);
    const seen: string[][] = [];
    const watching = service(
      hooked(store, async (key) => {
        if (key.includes('/conversations/') && !key.includes(source.id))
          seen.push((await plain.catalog.listWorkspaces(TENANT)).map((w) => w.id));
      }),
    );
    const fork = await watching.forks.forkWorkspace(TENANT, source.id, { name: 'copy' });
    expect(seen.length).toBeGreaterThan(0);
    // While its conversation was stored, only the source was listed.
    for (const listed of seen) expect(listed).toEqual([source.id]);
    expect((await plain.catalog.listWorkspaces(TENANT)).map((w) => w.id).sort()).toEqual(
      [source.id, fork.workspace.id].sort(),
    );
    expect(fork.conversations).toHaveLength(1);
    expect(fork.conversations[0]?.from).toBe(conversation.id);
    const copied = await plain.catalog.getConversation(TENANT, fork.conversations[0]?.to ?? '');
    expect(copied.workspaceId).toBe(fork.workspace.id);
  });

  it('forks a workspace that never stored a file while a run holds it, taking no snapshot', async () => {
    const plain = service(store, busy);
    const source = await plain.catalog.createWorkspace(TENANT, 'new');
    const fork = await plain.forks.forkWorkspace(TENANT, source.id, {});
    expect(fork.workspace.name).toBe('new (fork)');
    expect(
      (await plain.snapshots.page(TENANT, source.id, { after: null, limit: 10 })).items,
    ).toEqual([]);
    expect(await plain.catalog.getWorkspace(TENANT, fork.workspace.id)).toEqual(fork.workspace);
  });

  it('refuses to fork or rewind a conversation whose transcript is gone (session_lost)', async () => {
    const plain = service(store);
    const ws = await plain.catalog.createWorkspace(TENANT, 'lost');
    const c = await plain.catalog.createConversation(TENANT, ws.id, 'c');
    const run = {
      id: 'run_aaaaaaaaaaaaaaaa',
      conversationId: c.id,
      status: 'completed' as const,
      startedAt: new Date(clock.now()).toISOString(),
      endedAt: new Date(clock.now()).toISOString(),
      interrupted: false,
      error: null,
      summary: null,
      eventCount: 0,
    };
    await plain.catalog.updateConversation(c, (r) => {
      r.sessionId = '0b7f2a5e-8a1c-4d55-9d1e-2f3c4b5a6d7e';
      r.runs.push(run);
    });
    for (const attempt of [
      () => plain.forks.forkConversation(TENANT, c.id, run.id),
      () => plain.forks.rewind(TENANT, c.id, { toRunId: run.id }),
    ]) {
      const err = await attempt().then(
        () => null,
        (e: unknown) => e,
      );
      expect((err as WorkcellError).code).toBe('session_lost');
    }
    expect((await plain.catalog.listConversations(TENANT, ws.id)).map((x) => x.id)).toEqual([c.id]);
  });
});
