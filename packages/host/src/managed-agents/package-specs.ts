import { AnthropicApiError, unsupported } from './errors.js';

/**
 * The package lists of an environment's `config.packages`, checked entry by entry. Every entry
 * reaches the installer as one argument of its own (no shell), and the grammar accepted here is
 * narrow on top of that: a name and a version, never an option (`--index-url`), a URL, a path,
 * a git or file reference, an environment marker or a shell metacharacter.
 */

/** The managers an environment may list packages for. */
export const SERVED_MANAGERS = ['npm', 'pip'] as const;
export type ServedManager = (typeof SERVED_MANAGERS)[number];
/** The managers the SDK knows and Workcell refuses (400 naming them). */
export const REFUSED_MANAGERS = ['apt', 'cargo', 'gem', 'go'] as const;

/** The lists one environment installs. */
export type PackageLists = Record<ServedManager, string[]>;

/** An npm package name: optional `@scope/`, then lower-case letters, digits, `.`, `_`, `-`, `~`. */
const NPM_NAME = /^(?:@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*$/;
/** An npm version, `^`/`~` range or dist-tag: `1.2.3`, `^1.2`, `~1.2.3-beta.1`, `latest`. */
const NPM_VERSION = /^[~^]?[0-9A-Za-z][0-9A-Za-z.+-]*$/;

/** A PEP 508 distribution name. */
const PIP_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$/;
/** Extras: `[a,b]`. */
const PIP_EXTRAS =
  /^\[[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?(?:,[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)*\]$/;
/** One version clause of PEP 440: an operator and a version (`*` only after `==` or `!=`). */
const PIP_CLAUSE = /^(?:===|==|!=|~=|>=|<=|>|<)[0-9A-Za-z][0-9A-Za-z.+!_-]*(?:\.\*)?$/;

/** The reason an npm spec is refused, or null when it is served. */
export function npmSpecProblem(spec: string): string | null {
  if (spec.length === 0 || spec.length > 214) return 'must be 1-214 characters';
  const at = spec.indexOf('@', 1);
  const name = at === -1 ? spec : spec.slice(0, at);
  const version = at === -1 ? null : spec.slice(at + 1);
  if (!NPM_NAME.test(name))
    return 'must be an npm package name (lower case, optional @scope/), optionally @version, @^range, @~range or @tag';
  if (version !== null && !NPM_VERSION.test(version))
    return 'has a version that is not an exact version, ^range, ~range or dist-tag';
  return null;
}

/** The reason a pip requirement is refused, or null when it is served. */
export function pipSpecProblem(spec: string): string | null {
  if (spec.length === 0 || spec.length > 214) return 'must be 1-214 characters';
  const m = /^([^[<>=!~]+)(\[[^\]]*\])?(.*)$/.exec(spec);
  const name = m?.[1] ?? '';
  const extras = m?.[2];
  const clauses = m?.[3] ?? '';
  if (!PIP_NAME.test(name))
    return 'must be a requirement: a distribution name, optional [extras], optional version clauses such as ==1.0 or >=1,<2';
  if (extras !== undefined && !PIP_EXTRAS.test(extras)) return 'has malformed [extras]';
  if (clauses !== '' && !clauses.split(',').every((c) => PIP_CLAUSE.test(c)))
    return 'has a version specifier that is not a list of PEP 440 clauses (==, !=, ~=, >=, <=, >, <, ===)';
  return null;
}

const PROBLEM: Record<ServedManager, (spec: string) => string | null> = {
  npm: npmSpecProblem,
  pip: pipSpecProblem,
};

/**
 * The served lists of `config.packages`, each entry checked; throws 400 naming a refused
 * manager or the first bad entry.
 */
export function checkPackageLists(
  params: Partial<Record<ServedManager | (typeof REFUSED_MANAGERS)[number], string[] | null>>,
): PackageLists {
  for (const manager of REFUSED_MANAGERS)
    if ((params[manager] ?? []).length > 0)
      throw unsupported(`${manager} packages (config.packages.${manager})`);
  const lists: PackageLists = { npm: [], pip: [] };
  for (const manager of SERVED_MANAGERS) {
    const entries = params[manager] ?? [];
    entries.forEach((spec, i) => {
      const problem = PROBLEM[manager](spec);
      if (problem)
        throw new AnthropicApiError(
          'invalid_request_error',
          `config.packages.${manager}[${i}]: ${JSON.stringify(spec.slice(0, 100))} ${problem}`,
        );
    });
    lists[manager] = [...entries];
  }
  return lists;
}
