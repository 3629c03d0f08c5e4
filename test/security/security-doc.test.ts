import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * docs/security.md names a test for every claim. A reference reads `path/to/file.test.ts` ›
 * "test name" (several names may follow on one line); each file must exist and hold each name,
 * and every layer (### section) must cite at least one test.
 */

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const DOC = readFileSync(join(ROOT, 'docs', 'security.md'), 'utf8');
const PATH = /`((?:test|packages)\/[^`*]+\.test\.ts)`/;

interface Reference {
  line: number;
  file: string;
  names: string[];
}

function references(): Reference[] {
  const out: Reference[] = [];
  DOC.split('\n').forEach((text, index) => {
    const match = PATH.exec(text);
    if (!match?.[1]) return;
    const rest = text.slice((match.index ?? 0) + match[0].length);
    const names = [...rest.matchAll(/"([^"]+)"/g)].map((m) => m[1] ?? '');
    out.push({ line: index + 1, file: match[1], names });
  });
  return out;
}

describe('docs/security.md', () => {
  it('cites only test files and test names that exist', () => {
    const refs = references();
    expect(refs.length).toBeGreaterThan(30);
    for (const ref of refs) {
      const path = join(ROOT, ref.file);
      expect(existsSync(path), `line ${ref.line}: ${ref.file} does not exist`).toBe(true);
      const source = readFileSync(path, 'utf8');
      for (const name of ref.names)
        expect(source.includes(name), `line ${ref.line}: no test "${name}" in ${ref.file}`).toBe(
          true,
        );
    }
  });

  it('cites at least one test in every layer', () => {
    const sections = DOC.split(/\n(?=### )/).filter((s) => s.startsWith('### '));
    expect(sections.length).toBeGreaterThanOrEqual(8);
    for (const section of sections) {
      const title = section.split('\n')[0];
      const cited = section.split('\n').filter((line) => PATH.test(line) && /"[^"]+"/.test(line));
      expect(cited.length, `${title} cites no test`).toBeGreaterThan(0);
    }
  });
});
