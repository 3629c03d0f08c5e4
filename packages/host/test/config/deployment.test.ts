import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/load.js';
import { ENV_NAMES } from '../../src/config/schema.js';

const compose = readFileSync(new URL('../../../../docker-compose.yml', import.meta.url), 'utf8');

/** The `host` service's block of the Compose file (it carries the `&host` anchor). */
const hostService = compose.slice(compose.search(/\n {2}host:( &host)?\n/));

describe('the Compose deployment', () => {
  it('forwards every setting the host reads', () => {
    const missing = Object.values(ENV_NAMES).filter(
      (name) => !new RegExp(`^      ${name}: `, 'm').test(hostService),
    );
    expect(missing).toEqual([]);
  });

  it("gives the scale profile's second host the same settings, through the anchor", () => {
    expect(hostService).toMatch(/^    environment: &host-env\n/m);
    const hostB = compose.slice(compose.indexOf('\n  host-b:\n'));
    expect(hostB).toMatch(/^    environment:\n      <<: \*host-env\n/m);
    // Its own identity and data directory (it owns the containers of that directory).
    expect(hostB).toMatch(/^      WORKCELL_HOST_ID: /m);
    expect(hostB).toMatch(/^      WORKCELL_DATA_DIR: /m);
  });

  it('never hands the object store keys to the AWS SDK chain Bedrock signs with', () => {
    expect(hostService).not.toMatch(/AWS_ACCESS_KEY_ID: \$\{WORKCELL_S3/);
    expect(hostService).toMatch(/WORKCELL_S3_ACCESS_KEY: \$\{WORKCELL_S3_ACCESS_KEY\}/);
  });

  it('gives the host longer to stop than its worst-case graceful shutdown', () => {
    const grace = /stop_grace_period: (\d+)s/.exec(hostService);
    expect(grace).not.toBeNull();
    // The deadline for runs, then a stop honoured within 5 s, an agent settling within 5 s,
    // a 10 s margin (ExecuteService.shutdown), then closing the API, pool and stores.
    const worstMs = resolveConfig({}).shutdownTimeoutMs + 5_000 + 5_000 + 10_000;
    expect(Number(grace?.[1]) * 1000).toBeGreaterThan(worstMs + 30_000);
  });
});
