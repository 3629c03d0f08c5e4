#!/usr/bin/env node
// Runs the built command line (dist/cli/main.js). Before a build, or without installed
// dependencies, it says what to run instead of printing a stack trace.
let cli;
try {
  cli = await import('../dist/cli/main.js');
} catch (err) {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND') {
    const notBuilt = String(err.message).includes('/dist/');
    console.error(
      notBuilt
        ? 'workcell: the command line is not built yet; run `npm run build` in the repository (or `npm start`, which installs, builds and serves)'
        : 'workcell: dependencies are missing; run `npm ci` in the repository, then `npm run build`',
    );
    process.exit(1);
  }
  throw err;
}

cli.main(process.argv.slice(2)).then(
  (code) => {
    if (typeof code === 'number') process.exitCode = code;
  },
  (err) => {
    console.error(`workcell: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
