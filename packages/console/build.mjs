// Builds the console into dist/: index.html, and assets/ with the script bundle and the
// stylesheet. Everything is served by the host from its own origin (no CDN), which the
// console's Content-Security-Policy requires.
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { build } from 'esbuild';

await rm('dist', { recursive: true, force: true });
await mkdir('dist/assets', { recursive: true });
await build({
  entryPoints: ['src/main.ts'],
  outdir: 'dist/assets',
  entryNames: 'console',
  // xterm.js (the Terminal tab) is a chunk of its own, loaded when the tab opens.
  splitting: true,
  chunkNames: 'chunk-[hash]',
  bundle: true,
  platform: 'browser',
  format: 'esm',
  target: 'es2022',
  minify: true,
  sourcemap: false,
  legalComments: 'none',
  logLevel: 'warning',
});
await copyFile('src/index.html', 'dist/index.html');
await copyFile('src/console.css', 'dist/assets/console.css');
// xterm.js's own stylesheet, served beside ours (the Terminal tab).
const xtermDir = dirname(createRequire(import.meta.url).resolve('@xterm/xterm/package.json'));
await copyFile(join(xtermDir, 'css/xterm.css'), 'dist/assets/xterm.css');
