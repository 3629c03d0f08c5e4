import { main } from './main.js';

/**
 * Runs the command line from source (`node --import tsx packages/host/src/cli/run.ts serve`);
 * `bin/workcell.js` does the same from the build.
 */
main(process.argv.slice(2)).then(
  (code) => {
    if (typeof code === 'number') process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`workcell: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
