import { describe, expect, it } from 'vitest';
import { stateKeys, type StateKeys } from '../../src/state/keys.js';

function everyKey(keys: StateKeys): string[] {
  return [
    keys.container('c1'),
    keys.containers,
    keys.warm('workcell/workspace:1'),
    keys.assignment('w1'),
    keys.lease('gc'),
    keys.lease('run:w1'),
    keys.runEvents('r1'),
    keys.hit('ip:1'),
    keys.controlChannel,
  ];
}

/** What Redis Cluster hashes: the content of the first `{...}` with something in it, else the key. */
function hashTag(key: string): string {
  const open = key.indexOf('{');
  if (open < 0) return key;
  const close = key.indexOf('}', open + 1);
  if (close <= open + 1) return key;
  return key.slice(open + 1, close);
}

describe('Redis key layout', () => {
  it('puts every key under `workcell:` unless another prefix is given', () => {
    const defaults = everyKey(stateKeys());
    for (const key of defaults) expect(key.startsWith('workcell:')).toBe(true);
    expect(new Set(defaults).size).toBe(defaults.length);
    for (const key of everyKey(stateKeys('test-1'))) expect(key.startsWith('test-1:')).toBe(true);
  });

  it("keeps a workspace's assignment and its run lease in one hash slot", () => {
    const keys = stateKeys('p');
    expect(hashTag(keys.assignment('w-42'))).toBe('ws:w-42');
    expect(hashTag(keys.lease('run:w-42'))).toBe(hashTag(keys.assignment('w-42')));
  });

  it("keeps a pool's refill lease in the pool's hash slot", () => {
    const keys = stateKeys('p');
    expect(hashTag(keys.lease('pool:img:1'))).toBe(hashTag(keys.warm('img:1')));
  });

  it('gives every container, pool, run, lease and window a hash tag of its own', () => {
    const keys = stateKeys('p');
    const tags = [
      keys.container('c1'),
      keys.container('c2'),
      keys.warm('img:1'),
      keys.warm('img:2'),
      keys.assignment('w1'),
      keys.assignment('w2'),
      keys.lease('gc'),
      keys.runEvents('r1'),
      keys.runEvents('r2'),
      keys.hit('tenant:a'),
      keys.hit('tenant:b'),
    ].map(hashTag);
    expect(new Set(tags).size).toBe(tags.length);
    for (const tag of tags) expect(tag.startsWith('p:')).toBe(false);
  });

  it('escapes braces in ids so they cannot move a key to another slot', () => {
    const keys = stateKeys('p');
    expect(hashTag(keys.assignment('a}b{c'))).toBe('ws:a%7Db%7Bc');
    expect(hashTag(keys.container('x}'))).toBe('c:x%7D');
  });

  it('refuses a prefix with braces, which would take over every hash tag', () => {
    expect(() => stateKeys('p{x}')).toThrow(/must not contain/);
  });
});
