import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseEgressPatterns, type EgressPolicy } from '@workcell/proxy';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { POLICY_REFRESH_MS, PolicyStore } from '../../src/egress/policy-store.js';
import { DirectoryObjectStore } from '../../src/storage/directory-store.js';

const logger = pino({ level: 'silent' });
const operator: EgressPolicy = {
  allow: parseEgressPatterns('api.example.org,*.pypi.org', 'WORKCELL_EGRESS_ALLOW'),
  deny: [],
  allowPrivate: [],
};
const allowText = (p: EgressPolicy): string[] => p.allow.map((a) => a.text);
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function sharedStore(): DirectoryObjectStore {
  const dir = mkdtempSync(join(tmpdir(), 'wc-policy-'));
  dirs.push(dir);
  return DirectoryObjectStore.forDataDir(dir, logger);
}

describe('egress policy store', () => {
  it('allows nothing for an unassigned container or a workspace whose policy is not loaded yet', () => {
    const store = new PolicyStore(operator, sharedStore(), logger);
    expect(store.effective(null).allow).toEqual([]);
    expect(store.effective('ws_notloadedyet00000').allow).toEqual([]);
  });

  it('uses the operator list until a workspace narrows it, and keeps the narrowing durable', async () => {
    const objects = sharedStore();
    const first = new PolicyStore(operator, objects, logger);
    await first.load('t1', 'ws_a');
    expect(allowText(first.effective('ws_a'))).toEqual(['api.example.org', '*.pypi.org']);
    await first.set('t1', 'ws_a', ['files.pypi.org']);
    expect(allowText(first.effective('ws_a'))).toEqual(['files.pypi.org']);
    await expect(first.set('t1', 'ws_a', ['evil.test'])).rejects.toThrow(/outside the operator/);

    const restarted = new PolicyStore(operator, objects, logger);
    await restarted.load('t1', 'ws_a');
    expect(allowText(restarted.effective('ws_a'))).toEqual(['files.pypi.org']);
  });

  it('picks up a change another host made once its cached copy is stale', async () => {
    const objects = sharedStore();
    let now = 1_000_000;
    const hostA = new PolicyStore(operator, objects, logger, () => now);
    const hostB = new PolicyStore(operator, objects, logger, () => now);
    await hostB.load('t1', 'ws_b');
    expect(allowText(hostB.effective('ws_b'))).toHaveLength(2);

    await hostA.set('t1', 'ws_b', ['api.example.org']);
    expect(allowText(hostB.effective('ws_b'))).toHaveLength(2);
    now += POLICY_REFRESH_MS + 1;
    hostB.effective('ws_b');
    await expect.poll(() => allowText(hostB.effective('ws_b'))).toEqual(['api.example.org']);
  });

  it("adds the workspace's MCP server hosts to its list, narrowed or not, when reloaded", async () => {
    const objects = sharedStore();
    let mcp = parseEgressPatterns('mcp.internal.test:8443', 'mcpServers');
    const store = new PolicyStore(operator, objects, logger, Date.now, async () => mcp);
    await store.load('t1', 'ws_m');
    expect(allowText(store.effective('ws_m'))).toEqual([
      'api.example.org',
      '*.pypi.org',
      'mcp.internal.test:8443',
    ]);
    await store.set('t1', 'ws_m', ['api.example.org']);
    expect(allowText(store.effective('ws_m'))).toEqual([
      'api.example.org',
      'mcp.internal.test:8443',
    ]);
    mcp = [];
    await store.reload('t1', 'ws_m');
    expect(allowText(store.effective('ws_m'))).toEqual(['api.example.org']);
  });
});
