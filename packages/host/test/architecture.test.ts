import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { cycles, fileGraph, folderGraph } from '../../../eslint-rules/import-graph.mjs';

const SRC = fileURLToPath(new URL('../src/', import.meta.url));

describe('the host source tree', () => {
  it('has no import cycle between files, type-only imports included', () => {
    expect(cycles(fileGraph(SRC))).toEqual([]);
  });

  it('has no import cycle between its folders', () => {
    expect(cycles(folderGraph(SRC))).toEqual([]);
  });

  it('keeps the composition root at the top: no folder imports it', () => {
    const importers = [...folderGraph(SRC)].filter(([, to]) => to.has('.')).map(([from]) => from);
    // The command line starts a host, so it alone builds one.
    expect(importers).toEqual(['cli']);
  });
});
