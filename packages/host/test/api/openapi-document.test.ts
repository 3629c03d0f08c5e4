import { describe, expect, it } from 'vitest';
import { buildOpenApiDocument } from '../../src/api/openapi.js';

/**
 * The generated document, byte for byte, against the reviewed copy beside this test: a change
 * to any operation, schema or description shows in the diff of `openapi.json`. After an
 * intended change, refresh it with `npx vitest run --project unit <this file> -u`.
 */
describe('/openapi.json', () => {
  it('is the reviewed document, byte for byte', async () => {
    const document = `${JSON.stringify(buildOpenApiDocument({ version: '0.0.0' }), null, 2)}\n`;
    await expect(document).toMatchFileSnapshot('./__snapshots__/openapi.json');
  });
});
