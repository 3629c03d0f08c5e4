// Bundles the workspace agent and the Claude Agent SDK's JavaScript into one file for the
// workspace image; the SDK's native CLI binary is copied beside it by the image build.
import { build } from 'esbuild';

await build({
  entryPoints: ['src/main.ts'],
  outfile: 'bundle/agent.mjs',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node18',
  sourcemap: false,
  legalComments: 'none',
  banner: {
    js: "import { createRequire as __wcCreateRequire } from 'node:module'; const require = __wcCreateRequire(import.meta.url);",
  },
  logLevel: 'warning',
});
