/// <reference lib="dom" />
// The functions given to page.evaluate run in the browser.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../support/browser.js';
import { startTestHost, type TestHost } from '../support/host.js';
import { openTerminal } from '../support/terminal.js';

/** The console's Terminal tab in a real browser against a real host and container. */
describe("the console's Terminal tab", () => {
  let host: TestHost;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    host = await startTestHost();
    browser = await launchChromium();
    page = await (await browser.newContext()).newPage();
  });
  afterAll(async () => {
    await browser?.close();
    await host?.close();
  });

  const screenText = (): Promise<string> =>
    page.evaluate(() => document.querySelector('.xterm-rows')?.textContent ?? '');

  it('types into a shell in the workspace and shows its output; what it wrote is synced', async () => {
    const ws = await host.wc.workspaces.create({ name: 'term' });
    // Every URL the page asks for or opens a socket to; none may carry the API token.
    const urls: string[] = [];
    const sockets: string[] = [];
    page.on('request', (request) => urls.push(request.url()));
    page.on('websocket', (socket) => sockets.push(socket.url()));
    await page.goto(`${host.url}/`);
    await page.getByRole('textbox', { name: 'API token' }).fill(host.token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Workspaces' }).waitFor();
    await page.goto(`${host.url}/#/w/${ws.id}`);
    await page.getByRole('link', { name: 'Terminal' }).click();
    const status = page.getByRole('region', { name: 'Terminal' }).getByRole('status');
    await expect.poll(() => status.textContent(), { timeout: 30_000 }).toContain('Connected');

    await page.keyboard.type('echo "sum=$((6*7)) user=$(id -u) dir=$PWD" | tee from-browser.txt');
    await page.keyboard.press('Enter');
    await expect.poll(screenText, { timeout: 20_000 }).toContain('sum=42 user=1000 dir=/workspace');
    // The styles xterm.js generates (blocked as inline styles by the CSP) reach the page.
    const display = await page.evaluate(() => {
      const span = document.querySelector('.xterm-rows span');
      return span ? getComputedStyle(span).display : null;
    });
    expect(display).toBe('inline-block');

    // Leaving the tab closes the terminal; its file is synced out.
    await page.getByRole('link', { name: '← Workspace' }).click();
    await expect
      .poll(async () => (await host.wc.files.list(ws.id)).map((f) => f.path), { timeout: 20_000 })
      .toContain('from-browser.txt');

    // The socket was opened with a single-use ticket; the API token is in no URL the page used.
    expect(sockets).toHaveLength(1);
    const ticket = new URL(sockets[0] as string).searchParams.get('ticket');
    expect(ticket).toMatch(/^wct_/);
    expect(sockets[0]).not.toContain('access_token');
    for (const url of [...urls, ...sockets]) {
      expect(url).not.toContain(host.token);
      expect(url).not.toContain(encodeURIComponent(host.token));
    }
    // The ticket is used up: it opens nothing again.
    const replay = await openTerminal(host.url, ws.id, {
      token: null,
      query: `ticket=${ticket ?? ''}`,
    }).then(
      (t) => {
        t.close();
        return { status: 101 };
      },
      (err: { status?: number }) => ({ status: err.status }),
    );
    expect(replay).toEqual({ status: 401 });
  });
});
