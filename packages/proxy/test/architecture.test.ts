import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { cycles, fileGraph, folderGraph } from '../../../eslint-rules/import-graph.mjs';

const SRC = fileURLToPath(new URL('../src/', import.meta.url));

/**
 * The proxy's floors, lowest first: a folder imports only folders on its own floor or below.
 * Addresses and limits at the bottom; policy, secrets, TLS and signing over them; HTTP message
 * handling; the audit record; the request handlers (`routes/`, with their shared context); the
 * proxy's listeners (`listener/`); the proxy as a process of its own (`process/`); and the public
 * surface (`.`: `index.ts`).
 */
const FLOORS: Record<string, number> = {
  net: 0,
  limits: 0,
  policy: 1,
  secrets: 1,
  tls: 1,
  bedrock: 1,
  http: 2,
  audit: 3,
  routes: 4,
  listener: 5,
  process: 6,
  '.': 7,
};

describe('the proxy source tree', () => {
  it('has no import cycle between files, type-only imports included', () => {
    expect(cycles(fileGraph(SRC))).toEqual([]);
  });

  it('has no import cycle between its folders', () => {
    expect(cycles(folderGraph(SRC))).toEqual([]);
  });

  it('has a floor for every folder, and no import runs up a floor', () => {
    const upward: string[] = [];
    for (const [from, targets] of folderGraph(SRC)) {
      expect(FLOORS[from], `folder ${from} has no floor`).toBeDefined();
      for (const to of targets) {
        expect(FLOORS[to], `folder ${to} has no floor`).toBeDefined();
        if ((FLOORS[to] ?? 0) > (FLOORS[from] ?? 0)) upward.push(`${from} -> ${to}`);
      }
    }
    expect(upward).toEqual([]);
  });
});
