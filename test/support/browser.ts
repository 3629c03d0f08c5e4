import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/**
 * Debian's Chromium (`apt-get install chromium`, done by scripts/setup-machine.sh), driven
 * headless by playwright-core; no browser is ever downloaded. `WORKCELL_TEST_CHROMIUM` points
 * at another binary.
 */
export async function launchChromium(): Promise<Browser> {
  const executablePath = process.env.WORKCELL_TEST_CHROMIUM ?? '/usr/bin/chromium';
  if (!existsSync(executablePath)) {
    throw new Error(
      `no Chromium at ${executablePath}: run scripts/setup-machine.sh (apt-get install chromium)`,
    );
  }
  // --no-sandbox: the tests run as root, where Chromium refuses its own sandbox.
  return chromium.launch({ executablePath, headless: true, args: ['--no-sandbox'] });
}
