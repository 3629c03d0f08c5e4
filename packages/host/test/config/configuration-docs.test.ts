import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ENV_NAMES } from '../../src/config/schema.js';
import { CONFIGURATION_DOC, renderConfigurationDoc } from '../../../../scripts/gen-config-docs.js';

describe('docs/configuration.md', () => {
  it('is what scripts/gen-config-docs.ts generates from the current schema', async () => {
    const committed = readFileSync(CONFIGURATION_DOC, 'utf8');
    // When this fails: npx tsx --tsconfig tsconfig.check.json scripts/gen-config-docs.ts
    expect(committed).toBe(await renderConfigurationDoc());
  });

  it('documents every variable the host reads, each with a description', async () => {
    const doc = await renderConfigurationDoc();
    for (const variable of Object.values(ENV_NAMES)) {
      const row = doc.split('\n').find((line) => line.startsWith(`| \`${variable}\` `));
      expect(row, variable).toBeDefined();
      const meaning =
        row
          ?.split(' | ')
          .at(-1)
          ?.replace(/\s*\|$/, '')
          .trim() ?? '';
      expect(meaning.length, `${variable} has no description in the schema`).toBeGreaterThan(5);
    }
  });
});
