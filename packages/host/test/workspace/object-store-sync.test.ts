import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { Slot } from '../../src/containers/slots.js';
import { ObjectStoreWorkspaceSync } from '../../src/workspace/object-store-sync.js';
import { DirectoryObjectStore } from '../../src/storage/directory-store.js';
import * as layout from '../../src/storage/layout.js';
import { tenantBlobs } from '../../src/sync/content.js';
import { putWorkspaceFile } from '../../src/sync/workspace-files.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function temp(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `workcell-${name}-`));
  dirs.push(dir);
  return dir;
}

function slot(root: string): Slot {
  const s = {
    id: 'slot-1',
    root,
    socketDir: join(root, 'sock'),
    egressDir: join(root, 'egress'),
    workspaceDir: join(root, 'workspace'),
    claudeDir: join(root, 'claude'),
    agentSocket: join(root, 'sock', 'agent.sock'),
    egressSocket: join(root, 'egress', 'egress.sock'),
  };
  mkdirSync(s.workspaceDir, { recursive: true });
  mkdirSync(s.claudeDir, { recursive: true });
  return s;
}

describe('syncs of one slot', () => {
  it('run one after another: syncs in started together (a run, a push from another host) all succeed', async () => {
    const store = new DirectoryObjectStore({ root: temp('sync-store') });
    const tenant = 't1';
    const workspaceId = 'ws_serialSyncs00001';
    const location = {
      store,
      filesPrefix: layout.workspaceFilesPrefix(tenant, workspaceId),
      manifestKey: layout.workspaceManifestKey(tenant, workspaceId),
      blobs: tenantBlobs(tenant),
    };
    for (let i = 0; i < 40; i += 1)
      await putWorkspaceFile({
        ...location,
        path: `src/file-${i}.txt`,
        body: Buffer.from(`content ${i}\n`.repeat(20_000)),
        maxFileBytes: 1 << 20,
      });
    const target = slot(temp('sync-slot'));
    const sync = new ObjectStoreWorkspaceSync(store, {
      maxFileBytes: 1 << 20,
      logger: pino({ level: 'silent' }),
    });

    // Each sync in of an empty slot writes every file through a temporary name; at once, each
    // would take the other's temporaries for files the store does not have.
    // Started a few milliseconds apart, so a later one scans the slot while an earlier one is
    // writing.
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, async (_, i) => {
        await delay(i * 4);
        await sync.syncIn(tenant, workspaceId, target);
      }),
    );
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    expect(readdirSync(join(target.workspaceDir, 'src')).sort()).toHaveLength(40);
    expect(readFileSync(join(target.workspaceDir, 'src', 'file-7.txt'), 'utf8')).toBe(
      'content 7\n'.repeat(20_000),
    );
    expect(readdirSync(target.workspaceDir).filter((n) => n.startsWith('.workcell-tmp'))).toEqual(
      [],
    );
  });
});
