import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const SCOPE_FILE = 'scope-id';

/**
 * The scope of a data directory: a random id kept in `<dataDir>/scope-id`, made on first use.
 * Hosts that share a data directory (one machine, one engine) share its scope and so its warm
 * pool; hosts with data directories of their own (each machine its engine) each have one, and
 * never claim a container they cannot reach.
 */
export function dataDirScope(dataDir: string): string {
  const file = join(dataDir, SCOPE_FILE);
  const read = (): string | null => {
    try {
      const id = readFileSync(file, 'utf8').trim();
      return /^[a-f0-9]{16}$/.test(id) ? id : null;
    } catch {
      return null;
    }
  };
  const existing = read();
  if (existing) return existing;
  mkdirSync(dataDir, { recursive: true });
  try {
    // `wx`: of two hosts starting at once on one directory, the first writer's id stands.
    writeFileSync(file, randomBytes(8).toString('hex'), { flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const id = read();
  if (!id) throw new Error(`${file} does not hold a scope id`);
  return id;
}

/** The warm pool of `image` among the containers of one scope. */
export const poolName = (image: string, scope: string): string => `${image}@${scope}`;
