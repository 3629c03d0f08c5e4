// The relative import graph of a source tree, type-only imports included: the one reading of
// "who imports whom" that the `workcell/no-cycle` lint rule and the architecture tests share.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative, sep } from 'node:path';

/** Every `.ts` file under `dir`. */
export function sources(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return path.endsWith('.ts') && !path.endsWith('.d.ts') ? [path] : [];
  });
}

/**
 * The files each file imports with a relative specifier (`import`, `import type`, `export ...
 * from`, `import()`), as absolute `.ts` paths.
 */
export function fileGraph(dir) {
  const graph = new Map();
  for (const file of sources(dir)) {
    const text = readFileSync(file, 'utf8');
    const targets = new Set();
    for (const match of text.matchAll(/(?:from|import)\s*\(?\s*'(\.[^']+)'/g)) {
      const spec = match[1].replace(/\.js$/, '.ts');
      targets.add(normalize(join(dirname(file), spec)));
    }
    graph.set(file, targets);
  }
  return graph;
}

/** The top folder of a file under `dir` (`.` for files directly in it). */
export function folderOf(dir, file) {
  const parts = relative(dir, file).split(sep);
  return parts.length > 1 ? parts[0] : '.';
}

/** Folder -> the folders its files import. */
export function folderGraph(dir) {
  const graph = new Map();
  for (const [file, targets] of fileGraph(dir)) {
    const from = folderOf(dir, file);
    for (const target of targets) {
      const to = folderOf(dir, target);
      if (to === from) continue;
      if (!graph.has(from)) graph.set(from, new Set());
      graph.get(from).add(to);
    }
  }
  return graph;
}

/** Every cycle reachable in `graph`, each as the path that closes it (first node repeated). */
export function cycles(graph) {
  const found = [];
  const done = new Set();
  const visit = (node, path, onPath) => {
    for (const next of graph.get(node) ?? []) {
      if (onPath.has(next)) {
        found.push([...path.slice(path.indexOf(next)), next]);
        continue;
      }
      if (done.has(next)) continue;
      onPath.add(next);
      visit(next, [...path, next], onPath);
      onPath.delete(next);
    }
    done.add(node);
  };
  for (const start of graph.keys()) if (!done.has(start)) visit(start, [start], new Set([start]));
  return found;
}
