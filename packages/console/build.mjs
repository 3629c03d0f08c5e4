// Builds the console into dist/: index.html, and assets/ with the script bundle and the
// stylesheet. Everything is served by the host from its own origin (no CDN), which the
// console's Content-Security-Policy requires.
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { build } from 'esbuild';

await rm('dist', { recursive: true, force: true });
await mkdir('dist/assets', { recursive: true });
await build({
  entryPoints: ['src/main.ts'],
  outfile: 'dist/assets/console.js',
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
