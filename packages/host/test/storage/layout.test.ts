import { WorkcellError } from '@workcell/protocol';
import { describe, expect, it } from 'vitest';
import * as layout from '../../src/storage/layout.js';
import {
  checkObjectKey,
  checkObjectPrefix,
  compareKeys,
  MAX_OBJECT_KEY_BYTES,
} from '../../src/storage/object-key.js';

describe('key layout', () => {
  it('puts everything of a workspace under its root', () => {
    const root = layout.workspaceRoot('acme', 'w1');
    expect(root).toBe('tenants/acme/workspaces/w1/');
    const keys = [
      layout.workspaceMetaKey('acme', 'w1'),
      layout.workspaceManifestKey('acme', 'w1'),
      layout.workspaceFileKey('acme', 'w1', 'src/a.ts'),
      layout.sessionsManifestKey('acme', 'w1'),
      `${layout.sessionsPrefix('acme', 'w1')}projects/-workspace/s.jsonl`,
      layout.conversationMetaKey('acme', 'w1', 'c1'),
      layout.runEventsKey('acme', 'w1', 'c1', 'r1'),
    ];
    expect(keys).toEqual([
      'tenants/acme/workspaces/w1/meta.json',
      'tenants/acme/workspaces/w1/manifest.json',
      'tenants/acme/workspaces/w1/files/src/a.ts',
      'tenants/acme/workspaces/w1/sessions-manifest.json',
      'tenants/acme/workspaces/w1/sessions/projects/-workspace/s.jsonl',
      'tenants/acme/workspaces/w1/conversations/c1/meta.json',
      'tenants/acme/workspaces/w1/conversations/c1/runs/r1.ndjson',
    ]);
    for (const key of keys) {
      expect(key.startsWith(root)).toBe(true);
      expect(checkObjectKey(key)).toBe(key);
    }
  });

  it('keeps the id indexes outside the workspace and tenants apart', () => {
    expect(layout.conversationIndexKey('acme', 'c1')).toBe(
      'tenants/acme/conversation-index/c1.json',
    );
    expect(layout.workspaceIndexKey('acme', 'w1')).toBe('tenants/acme/workspace-index/w1.json');
    expect(layout.workspaceRoot('acme', 'w1').startsWith(layout.tenantRoot('acme'))).toBe(true);
    expect(layout.workspaceRoot('acme2', 'w1').startsWith(layout.tenantRoot('acme'))).toBe(false);
    // `w1/` never matches `w10/`: prefixes end with a slash.
    expect(
      layout.workspaceFileKey('acme', 'w10', 'x').startsWith(layout.workspaceRoot('acme', 'w1')),
    ).toBe(false);
  });

  it('reads ids back from listed keys', () => {
    expect(layout.workspaceIdOfIndexKey('t', layout.workspaceIndexKey('t', 'w_9-x'))).toBe('w_9-x');
    expect(layout.workspaceIdOfIndexKey('t', 'tenants/t/workspace-index/w/extra.json')).toBeNull();
    expect(
      layout.conversationIdOfMetaKey('t', 'w', layout.conversationMetaKey('t', 'w', 'c')),
    ).toBe('c');
    expect(
      layout.conversationIdOfMetaKey('t', 'w', layout.runEventsKey('t', 'w', 'c', 'r')),
    ).toBeNull();
    expect(layout.runIdOfEventsKey('t', 'w', 'c', layout.runEventsKey('t', 'w', 'c', 'r7'))).toBe(
      'r7',
    );
  });

  it.each(['', '..', 'a/b', 'a b', 'é', 'x'.repeat(129), 'a.b', '.'])(
    'refuses the id %j',
    (bad) => {
      expect(layout.isValidId(bad)).toBe(false);
      expect(() => layout.workspaceRoot(bad, 'w')).toThrow(WorkcellError);
      expect(() => layout.workspaceRoot('t', bad)).toThrow(WorkcellError);
      expect(() => layout.conversationMetaKey('t', 'w', bad)).toThrow(WorkcellError);
      expect(() => layout.runEventsKey('t', 'w', 'c', bad)).toThrow(WorkcellError);
    },
  );

  it('checks file paths with the workspace path rule', () => {
    expect(() => layout.workspaceFileKey('t', 'w', '../../other/files/x')).toThrow(
      /"\.\." segment/,
    );
    expect(() => layout.workspaceFileKey('t', 'w', '/etc/passwd')).toThrow(/absolute/);
  });
});

describe('object keys', () => {
  it.each([
    ['', /empty/],
    ['/a', /starts with/],
    ['a//b', /empty segment/],
    ['a/', /empty segment/],
    ['a/./b', /"\." segment/],
    ['a/../b', /"\.\." segment/],
    ['a\0b', /NUL/],
    ['a/.workcell-object', /reserved/],
    ['x'.repeat(256), /255 bytes/],
    [`${'a/'.repeat(512)}b`, /1024 bytes/],
  ])('refuses %j', (key, reason) => {
    expect(() => checkObjectKey(key)).toThrow(reason);
  });

  it('accepts the longest key and checks prefixes by their whole segments', () => {
    const longest = `${'a'.repeat(200)}/`.repeat(5) + 'b'.repeat(MAX_OBJECT_KEY_BYTES - 1005);
    expect(Buffer.byteLength(longest)).toBe(MAX_OBJECT_KEY_BYTES);
    expect(checkObjectKey(longest)).toBe(longest);
    expect(checkObjectPrefix('')).toBe('');
    expect(checkObjectPrefix('a/b')).toBe('a/b');
    expect(checkObjectPrefix('a/b/')).toBe('a/b/');
    expect(checkObjectPrefix('a/.')).toBe('a/.');
    expect(() => checkObjectPrefix('../a')).toThrow(/"\.\." segment/);
    expect(() => checkObjectPrefix('/a')).toThrow(/starts with/);
  });

  it('orders keys by UTF-8 bytes, as S3 lists them', () => {
    const keys = ['a/b/1', 'a/b', 'a/b-x', 'a/bc', '\uff61', '😀', 'A'];
    expect([...keys].sort(compareKeys)).toEqual([
      'A',
      'a/b',
      'a/b-x',
      'a/b/1',
      'a/bc',
      '\uff61',
      '😀',
    ]);
  });
});
