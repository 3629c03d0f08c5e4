import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { Catalog, type WorkspaceRecord } from '../../packages/host/src/catalog/catalog.js';
import type { PageRequest } from '../../packages/host/src/catalog/page.js';
import { DirectoryObjectStore } from '../../packages/host/src/storage/directory-store.js';
import * as layout from '../../packages/host/src/storage/layout.js';
import type { ObjectStore } from '../../packages/host/src/storage/object-store.js';
import { S3ObjectStore } from '../../packages/host/src/storage/s3-store.js';

/**
 * The workspace list's contract, on every ObjectStore the catalog can live in: the directory
 * store and S3 (s3rver). Pages hold every workspace once, in creation order, however the
 * list grows while a client pages, and a page reads only the workspaces on it.
 */

interface Harness {
  store: ObjectStore;
  /** Whole-object reads so far (`getBuffer` and `get`). */
  reads(): number;
  cleanup(): Promise<void>;
}

/** Counts the object reads a store is asked for. */
function counting(store: ObjectStore): { store: ObjectStore; reads: () => number } {
  let reads = 0;
  const counted = Object.create(store) as ObjectStore;
  counted.getBuffer = (key) => {
    reads += 1;
    return store.getBuffer(key);
  };
  counted.get = (key, range) => {
    reads += 1;
    return store.get(key, range);
  };
  return { store: counted, reads: () => reads };
}

const harnesses: [string, () => Promise<Harness>][] = [
  [
    'DirectoryObjectStore',
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'workcell-pages-'));
      const { store, reads } = counting(new DirectoryObjectStore({ root: join(dir, 'objects') }));
      return { store, reads, cleanup: () => rm(dir, { recursive: true, force: true }) };
    },
  ],
  [
    'S3ObjectStore',
    async () => {
      const s3 = new S3ObjectStore({
        bucket: inject('s3Bucket'),
        endpoint: inject('s3Endpoint'),
        prefix: `pages-${randomUUID()}`,
        credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      });
      const { store, reads } = counting(s3);
      return {
        store,
        reads,
        cleanup: async () => {
          await s3.deletePrefix('');
          await s3.close();
        },
      };
    },
  ],
];

async function allPages(
  catalog: Catalog,
  tenant: string,
  limit: number,
  between?: (page: number) => Promise<void>,
): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let req: PageRequest = { after: null, limit };
  let pages = 0;
  for (;;) {
    const page = await catalog.listWorkspacePage(tenant, req);
    pages += 1;
    expect(page.items.length).toBeLessThanOrEqual(limit);
    ids.push(...page.items.map((w) => w.id));
    if (page.nextKey === null) break;
    await between?.(pages);
    req = { after: page.nextKey, limit };
  }
  return { ids, pages };
}

const byCreation = (records: WorkspaceRecord[]): string[] =>
  [...records]
    .sort((a, b) =>
      a.createdAt === b.createdAt ? (a.id < b.id ? -1 : 1) : a.createdAt < b.createdAt ? -1 : 1,
    )
    .map((r) => r.id);

describe.each(harnesses)('workspace list pagination: %s', (_name, makeHarness) => {
  let h: Harness;
  let catalog: Catalog;

  beforeEach(async () => {
    h = await makeHarness();
    catalog = new Catalog(h.store);
  });

  afterEach(async () => {
    await h.cleanup();
  });

  it('pages through every workspace once, oldest first, and only the tenant’s own', async () => {
    const made: WorkspaceRecord[] = [];
    for (let i = 0; i < 17; i += 1) made.push(await catalog.createWorkspace('t-a', `ws ${i}`));
    await catalog.createWorkspace('t-b', 'other tenant');

    const { ids, pages } = await allPages(catalog, 't-a', 5);
    expect(pages).toBe(4);
    expect(ids).toEqual(byCreation(made));
    const one = await catalog.listWorkspacePage('t-a', { after: null, limit: 100 });
    expect(one.nextKey).toBeNull();
    expect(one.items).toEqual(made.sort((a, b) => ids.indexOf(a.id) - ids.indexOf(b.id)));
  });

  it('concurrent inserts while paging miss nothing and repeat nothing', async () => {
    const before: WorkspaceRecord[] = [];
    for (let i = 0; i < 12; i += 1) before.push(await catalog.createWorkspace('t-a', `b ${i}`));
    const during: WorkspaceRecord[] = [];
    const { ids } = await allPages(catalog, 't-a', 4, async () => {
      const added = await Promise.all(
        [0, 1, 2].map((i) => catalog.createWorkspace('t-a', `d ${i}`)),
      );
      during.push(...added);
    });
    expect(new Set(ids).size).toBe(ids.length);
    for (const ws of before) expect(ids).toContain(ws.id);
    // Every workspace made while paging is newer than the cursor: it comes on a later page.
    for (const ws of during) expect(ids).toContain(ws.id);
    expect(ids).toEqual(byCreation([...before, ...during]));
  });

  it('reads only the workspaces on the page, however many the tenant has', async () => {
    for (let i = 0; i < 30; i += 1) await catalog.createWorkspace('t-a', `ws ${i}`);
    await catalog.listWorkspacePage('t-a', { after: null, limit: 1 });
    const start = h.reads();
    const page = await catalog.listWorkspacePage('t-a', { after: null, limit: 5 });
    expect(page.items).toHaveLength(5);
    expect(h.reads() - start).toBe(5);
  });

  it('takes a deleted workspace out of the list', async () => {
    const a = await catalog.createWorkspace('t-a', 'a');
    const b = await catalog.createWorkspace('t-a', 'b');
    await catalog.deleteWorkspace('t-a', a.id);
    const page = await catalog.listWorkspacePage('t-a', { after: null, limit: 10 });
    expect(page.items.map((w) => w.id)).toEqual([b.id]);
  });

  it('lists workspaces made before the list existed', async () => {
    const old = await catalog.createWorkspace('t-a', 'old');
    // As stored before the workspace list: no list entry, no ready marker.
    await h.store.delete(layout.workspaceListKey('t-a', Date.parse(old.createdAt), old.id));
    await h.store.delete(layout.workspaceListReadyKey('t-a'));
    const fresh = new Catalog(h.store);
    const page = await fresh.listWorkspacePage('t-a', { after: null, limit: 10 });
    expect(page.items).toEqual([old]);
    const newer = await fresh.createWorkspace('t-a', 'new');
    const again = await new Catalog(h.store).listWorkspacePage('t-a', { after: null, limit: 10 });
    expect(again.items.map((w) => w.id)).toEqual([old.id, newer.id]);
  });

  it('pages a workspace’s conversations once, oldest first, reading only the page', async () => {
    const ws = await catalog.createWorkspace('t-a', 'w');
    const other = await catalog.createWorkspace('t-a', 'other');
    await catalog.createConversation('t-a', other.id, 'elsewhere');
    const made: string[] = [];
    for (let i = 0; i < 9; i += 1)
      made.push((await catalog.createConversation('t-a', ws.id, `c${i}`)).id);
    const ids: string[] = [];
    let after: string | null = null;
    do {
      const before = h.reads();
      const page = await catalog.listConversationPage('t-a', ws.id, { after, limit: 4 });
      // The workspace record and the conversations on the page.
      expect(h.reads() - before).toBeLessThanOrEqual(page.items.length + 1);
      ids.push(...page.items.map((c) => c.id));
      if (page.items.length === 0) break;
      expect(page.items[0]).toMatchObject({ workspaceId: ws.id });
      after = page.nextKey;
      if (after === null) break;
      await catalog.createConversation('t-a', ws.id, 'while paging').then((c) => made.push(c.id));
    } while (after !== null);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual(made);
  });

  it('lists conversations made before the conversation list existed', async () => {
    const ws = await catalog.createWorkspace('t-a', 'w');
    const old = await catalog.createConversation('t-a', ws.id, 'old');
    await h.store.delete(
      layout.conversationListKey('t-a', ws.id, Date.parse(old.createdAt), old.id),
    );
    await h.store.delete(layout.conversationListReadyKey('t-a', ws.id));
    const page = await new Catalog(h.store).listConversationPage('t-a', ws.id, {
      after: null,
      limit: 10,
    });
    expect(page.items).toEqual([
      { id: old.id, workspaceId: ws.id, title: 'old', createdAt: old.createdAt },
    ]);
  });
});
