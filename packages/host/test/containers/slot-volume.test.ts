import { describe, expect, it } from 'vitest';
import { mountPoints } from '../../src/containers/slot-volume.js';

describe('mount points', () => {
  it('lists the mounts of this process, the root included, unescaped', async () => {
    const points = await mountPoints();
    expect(points).toContain('/');
    expect(points).toContain('/proc');
    expect(points.some((p) => /\\[0-7]{3}/.test(p))).toBe(false);
  });
});
