import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** How to start the proxy process: the module `fork` runs and the Node options it needs. */
export interface ProxyProcessCommand {
  readonly modulePath: string;
  readonly execArgv: readonly string[];
  /** Variables the child needs besides the few the host passes on. */
  readonly env: Readonly<Record<string, string>>;
}

/**
 * The proxy process's entry beside this module. From the built package that is
 * `dist/process/main.js`, run as it is. From the TypeScript sources (tests, `tsx`), it is
 * `main.ts`, run through tsx with the repository's `tsconfig.check.json`, whose paths resolve the
 * workspace packages to their sources as the tests' aliases do.
 */
export function proxyProcessCommand(): ProxyProcessCommand {
  const here = import.meta.url;
  if (!here.endsWith('.ts'))
    return {
      modulePath: fileURLToPath(new URL('./main.js', here)),
      execArgv: [],
      env: {},
    };
  const tsx = createRequire(here).resolve('tsx');
  return {
    modulePath: fileURLToPath(new URL('./main.ts', here)),
    execArgv: ['--import', tsx],
    env: { TSX_TSCONFIG_PATH: fileURLToPath(new URL('../../../../tsconfig.check.json', here)) },
  };
}
