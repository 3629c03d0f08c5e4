import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Catalog } from '../../src/catalog/catalog.js';
import { DirectoryObjectStore } from '../../src/storage/directory-store.js';
import { ManualClock } from '../../src/time/clock.js';

describe('the catalog', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it("stamps workspaces and conversations with the injected clock's time", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wc-catalog-time-'));
    dirs.push(dir);
    const clock = new ManualClock(Date.parse('2031-02-03T04:05:06.007Z'));
    const catalog = new Catalog(new DirectoryObjectStore({ root: dir }), clock);

    const workspace = await catalog.createWorkspace('t1', 'demo');
    expect(workspace.createdAt).toBe('2031-02-03T04:05:06.007Z');
    clock.advance(60_000);
    const conversation = await catalog.createConversation('t1', workspace.id, undefined);
    expect(conversation.createdAt).toBe('2031-02-03T04:06:06.007Z');
  });
});
