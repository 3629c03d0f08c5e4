import { describe, expect, it } from 'vitest';
import { stateKeys, type StateKeys } from '../../src/state/keys.js';

function everyKey(keys: StateKeys): string[] {
  return [
    keys.container('c1'),
    keys.containers,
    keys.warm('workcell/workspace:1'),
    keys.assignment('w1'),
    keys.lease('gc'),
    keys.runEvents('r1'),
    keys.hit('ip:1'),
  ];
}

describe('Redis key layout', () => {
  it('puts every key under `workcell:` unless another prefix is given', () => {
    const defaults = everyKey(stateKeys());
    for (const key of defaults) expect(key.startsWith('workcell:')).toBe(true);
    expect(new Set(defaults).size).toBe(defaults.length);
    for (const key of everyKey(stateKeys('test-1'))) expect(key.startsWith('test-1:')).toBe(true);
  });

  it('names a workspace assignment workspace:<id>:container', () => {
    expect(stateKeys('p').assignment('w-42')).toBe('p:workspace:w-42:container');
  });

  it('gives scripts the prefixes the key builders use', () => {
    const keys = stateKeys('p');
    expect(keys.containerPrefix + 'c1').toBe(keys.container('c1'));
    expect(keys.warmPrefix + 'img:1').toBe(keys.warm('img:1'));
    expect(keys.assignmentPrefix + 'w1' + keys.assignmentSuffix).toBe(keys.assignment('w1'));
  });
});
