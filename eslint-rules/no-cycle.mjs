// `workcell/no-cycle`: no source file may reach itself through its relative imports, type-only
// imports included (import-x/no-cycle skips those). The graph is read once per package source
// tree and lint run.
import { dirname, join, sep } from 'node:path';
import { cycles, fileGraph } from './import-graph.mjs';

const byRoot = new Map();

/** The `packages/<name>/src` folder a file belongs to, or null. */
function sourceRoot(file) {
  const parts = file.split(sep);
  const at = parts.lastIndexOf('src');
  if (at < 2 || parts[at - 2] !== 'packages') return null;
  return parts.slice(0, at + 1).join(sep);
}

function cyclicFiles(root) {
  let found = byRoot.get(root);
  if (!found) {
    found = new Map();
    for (const cycle of cycles(fileGraph(root)))
      for (let i = 0; i < cycle.length - 1; i += 1) found.set(cycle[i], cycle);
    byRoot.set(root, found);
  }
  return found;
}

export default {
  meta: {
    type: 'problem',
    docs: { description: 'forbid import cycles between files, type-only imports included' },
    messages: { cycle: 'Import cycle (type-only imports count): {{path}}' },
    schema: [],
  },
  create(context) {
    const file = context.physicalFilename;
    const root = sourceRoot(file);
    if (root === null) return {};
    const cycle = cyclicFiles(root).get(file);
    if (!cycle) return {};
    const next = cycle[cycle.indexOf(file) + 1];
    return {
      'ImportDeclaration, ExportNamedDeclaration, ExportAllDeclaration'(node) {
        const spec = node.source?.value;
        if (typeof spec !== 'string' || !spec.startsWith('.')) return;
        const target = join(dirname(file), spec.replace(/\.js$/, '.ts'));
        if (target !== next) return;
        context.report({
          node,
          messageId: 'cycle',
          data: { path: cycle.map((f) => f.slice(root.length + 1)).join(' -> ') },
        });
      },
    };
  },
};
