/**
 * Node module hooks for child processes of the orchestrator tests: `@workcell/<package>` resolves
 * to the package's TypeScript source (as vitest's aliases do), so a child host runs the code
 * under test without a build. Registered after tsx, which compiles the TypeScript.
 */
const PACKAGES = new Set(['protocol', 'proxy', 'mock-model', 'host']);

export async function resolve(specifier, context, next) {
  const match = /^@workcell\/([a-z-]+)$/.exec(specifier);
  if (match && PACKAGES.has(match[1])) {
    return next(new URL(`../../packages/${match[1]}/src/index.ts`, import.meta.url).href, context);
  }
  return next(specifier, context);
}
