import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const pkg = (name: string): string =>
  fileURLToPath(new URL(`./packages/${name}/src/index.ts`, import.meta.url));

const alias = {
  '@workcell/protocol': pkg('protocol'),
  '@workcell/client': pkg('client'),
  '@workcell/proxy': pkg('proxy'),
  '@workcell/mock-model': pkg('mock-model'),
  '@workcell/host': pkg('host'),
};

/**
 * Two projects: `unit` needs nothing but Node; `system` drives real dockerd, Redis, s3rver,
 * the workspace image and the Claude Agent SDK (scripts/test.sh starts and builds them).
 */
export default defineConfig({
  resolve: { alias },
  test: {
    projects: [
      {
        resolve: { alias },
        test: {
          name: 'unit',
          include: ['packages/*/test/**/*.test.ts'],
          testTimeout: 20_000,
        },
      },
      {
        resolve: { alias },
        test: {
          name: 'system',
          include: ['test/**/*.test.ts'],
          testTimeout: 180_000,
          hookTimeout: 300_000,
          fileParallelism: false,
          globalSetup: ['test/support/global-setup.ts'],
        },
      },
    ],
  },
});
