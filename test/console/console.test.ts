/// <reference lib="dom" />
// The functions given to page.evaluate run in the browser.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium } from '../support/browser.js';
import { startTestHost, type TestHost } from '../support/host.js';

/**
 * The web console in a real browser (Debian's Chromium, headless) against a real host: every
 * flow an operator relies on, found by the accessible names the console promises.
 */
describe('the web console', () => {
  let host: TestHost;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const admin = `tok_admin_${randomBytes(12).toString('hex')}`;
  const workspaceName = `demo-${randomBytes(3).toString('hex')}`;
  /** Every URL the pages asked for: the console calls nothing but its own origin. */
  const requested: string[] = [];
  let workspaceId = '';
  let conversationId = '';

  const conversation = () => page.getByRole('log', { name: 'Conversation' });
  const files = () => page.getByRole('region', { name: 'Files' });
  /** The agent's reply text in the log (the user's own prompts left out). */
  const replies = async (): Promise<string> =>
    (await conversation().locator('.msg.assistant').allTextContents()).join('\n');

  async function signIn(p: Page, token: string): Promise<void> {
    await p.goto(`${host.url}/`);
    await p.getByRole('textbox', { name: 'API token' }).fill(token);
    await p.getByRole('button', { name: 'Sign in' }).click();
    await p.getByRole('heading', { name: 'Workspaces' }).waitFor();
  }

  async function send(text: string): Promise<void> {
    await page.getByRole('textbox', { name: 'Message' }).fill(text);
    await page.getByRole('button', { name: 'Send' }).click();
  }

  beforeAll(async () => {
    host = await startTestHost({ adminTokens: admin });
    browser = await launchChromium();
    context = await browser.newContext({ acceptDownloads: true });
    context.on('request', (r) => requested.push(r.url()));
    page = await context.newPage();
  });

  afterAll(async () => {
    await browser?.close();
    await host?.close();
  });

  it('refuses a wrong token plainly, and keeps a good one for the browser session only', async () => {
    const res = await page.goto(`${host.url}/`);
    const csp = res?.headers()['content-security-policy'] ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    await page.getByRole('textbox', { name: 'API token' }).fill('not-a-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect
      .poll(() => page.getByRole('alert').first().textContent())
      .toContain('not accepted');

    await page.getByRole('textbox', { name: 'API token' }).fill(host.token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Workspaces' }).waitFor();
    const stored = await page.evaluate(() => ({
      session: Object.keys(sessionStorage),
      local: localStorage.length,
      cookie: document.cookie,
    }));
    expect(stored).toEqual({ session: ['workcell.token'], local: 0, cookie: '' });
    expect(await context.cookies()).toEqual([]);

    // Another browser session starts signed out.
    const other = await browser.newContext();
    const otherPage = await other.newPage();
    await otherPage.goto(`${host.url}/`);
    await otherPage.getByRole('button', { name: 'Sign in' }).waitFor();
    await other.close();
  });

  it('creates a workspace and a conversation; the URL names both', async () => {
    await page.getByRole('textbox', { name: 'Workspace name' }).fill(workspaceName);
    await page.getByRole('button', { name: 'New workspace' }).click();
    await page.waitForURL(/#\/w\/[^/]+$/);
    workspaceId = /#\/w\/([^/]+)$/.exec(page.url())?.[1] ?? '';
    await page.getByRole('heading', { name: workspaceName }).waitFor();
    await page.getByRole('button', { name: 'New conversation' }).click();
    await page.waitForURL(/#\/w\/[^/]+\/c\/[^/]+$/);
    conversationId = /\/c\/([^/]+)$/.exec(page.url())?.[1] ?? '';
    expect((await host.wc.conversations.get(conversationId)).workspaceId).toBe(workspaceId);
  });

  it('streams the reply in, shows the tool call, and the file the agent wrote appears and downloads', async () => {
    // Count the text pieces added to reply bubbles: a streamed reply arrives in many.
    await page.evaluate(() => {
      const w = window as unknown as { pieces: number };
      w.pieces = 0;
      new MutationObserver((records) => {
        for (const r of records) {
          const el = r.target as Element;
          if (el.classList?.contains('assistant')) w.pieces += r.addedNodes.length;
        }
      }).observe(document.body, { childList: true, subtree: true });
    });
    await send(
      [
        'MOCK:{"tool": "Write", "input": {"file_path": "report.txt", "content": "the report\\n"}}',
        'MOCK:{"chunks": 40, "chunk_text": "streamed "}',
      ].join('\n'),
    );
    await page.getByRole('button', { name: 'Stop' }).waitFor({ state: 'hidden' });
    const log = conversation();
    await expect.poll(() => log.textContent()).toContain('streamed streamed');
    await expect.poll(() => log.textContent()).toContain('Completed in');
    expect(
      await page.evaluate(() => (window as unknown as { pieces: number }).pieces),
    ).toBeGreaterThanOrEqual(40);
    // The tool call is one compact line that expands to its input and result.
    const tool = log.locator('details.tool', { hasText: 'Write /workspace/report.txt' });
    await expect.poll(() => tool.count()).toBe(1);
    await tool.locator('summary').click();
    await expect.poll(() => tool.locator('pre').first().textContent()).toContain('the report');

    await files().getByText('report.txt').waitFor();
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      files().getByRole('button', { name: 'Download report.txt' }).click(),
    ]);
    expect(download.suggestedFilename()).toBe('report.txt');
    expect(await readFile((await download.path()) as string, 'utf8')).toBe('the report\n');

    if (process.env.WORKCELL_SCREENSHOT) {
      await page.setViewportSize({ width: 1280, height: 760 });
      await page.screenshot({ path: process.env.WORKCELL_SCREENSHOT });
    }
  });

  it('shows markup from the agent as text and never runs it', async () => {
    const hostile = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>';
    await send(`MOCK:${JSON.stringify({ text: hostile })}`);
    await page.getByRole('button', { name: 'Stop' }).waitFor({ state: 'hidden' });
    await expect.poll(() => replies()).toContain(hostile);
    expect(await conversation().locator('img, script').count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBe(
      undefined,
    );
  });

  it('stops a long run with Stop', async () => {
    await send('MOCK:{"sleep_ms": 60000}\nMOCK:{"text": "too late"}');
    const stop = page.getByRole('button', { name: 'Stop' });
    await stop.waitFor();
    await stop.click();
    await stop.waitFor({ state: 'hidden' });
    await expect.poll(() => conversation().textContent()).toContain('Interrupted');
    expect(await replies()).not.toContain('too late');
    expect(await page.getByRole('button', { name: 'Send' }).isEnabled()).toBe(true);
  });

  it('Stop pressed before the run has started still stops it once the run begins', async () => {
    // Hold the message's answer back, so Stop is pressed before run.started arrives.
    const pattern = `**/v1/conversations/${conversationId}/messages`;
    await page.route(pattern, async (route) => {
      await new Promise((r) => setTimeout(r, 1500));
      await route.continue();
    });
    try {
      await send('MOCK:{"sleep_ms": 60000}\nMOCK:{"text": "should not arrive"}');
      const stop = page.getByRole('button', { name: 'Stop' });
      await stop.waitFor();
      await stop.click();
      await stop.waitFor({ state: 'hidden', timeout: 20_000 });
      expect(await replies()).not.toContain('should not arrive');
      const runs = await host.wc.conversations.runs(conversationId);
      expect(runs.at(-1)?.status).not.toBe('running');
    } finally {
      await page.unroute(pattern);
    }
  });

  it('shows an API error plainly: a message to a workspace busy with another run', async () => {
    const other = await host.wc.conversations.create(workspaceId);
    const { runId } = await host.wc.conversations.start(other.id, 'MOCK:{"sleep_ms": 60000}');
    try {
      await send('MOCK:{"text": "not now"}');
      await expect
        .poll(async () => (await page.getByRole('alert').allTextContents()).join(' '))
        .toContain('workspace_busy');
      expect(await page.getByRole('button', { name: 'Send' }).isEnabled()).toBe(true);
    } finally {
      await host.wc.conversations.interrupt(other.id, runId);
      await host.wc.conversations.events(other.id, runId).toArray();
    }
  });

  it('reloading mid-run shows the same view, rejoins the run and misses nothing', async () => {
    await send(
      [
        'MOCK:{"tool": "Write", "input": {"file_path": "late.txt", "content": "late\\n"}}',
        'MOCK:{"sleep_ms": 4000}',
        'MOCK:{"text": "after the reload"}',
      ].join('\n'),
    );
    const log = conversation();
    await log.getByText('Write /workspace/late.txt').waitFor();
    const url = page.url();
    await page.reload();
    expect(page.url()).toBe(url);
    // The run is still going: Stop is back, then the rest of the run streams in.
    await page.getByRole('button', { name: 'Stop' }).waitFor();
    await page.getByRole('button', { name: 'Stop' }).waitFor({ state: 'hidden', timeout: 60_000 });
    const text = (await conversation().textContent()) ?? '';
    expect((await replies()).split('after the reload')).toHaveLength(2);
    expect(await conversation().locator('details.tool', { hasText: 'late.txt' }).count()).toBe(1);
    expect(text).toContain('Completed in');
    // The earlier runs are there too, from the conversation's history.
    expect(text).toContain('Write /workspace/report.txt');
    // Every prompt comes back from the history (each run's user.message), once, with nothing
    // kept in the browser but the token.
    const prompts = await log.locator('.msg.user').allTextContents();
    expect(prompts.filter((p) => p.includes('after the reload'))).toHaveLength(1);
    expect(prompts.filter((p) => p.includes('late.txt'))).toHaveLength(1);
    expect(await page.evaluate(() => Object.keys(sessionStorage))).toEqual(['workcell.token']);
    await files().getByText('late.txt').waitFor();
  });

  it('uploads and deletes files', async () => {
    await files()
      .locator('input[type=file]')
      .setInputFiles({
        name: 'notes.md',
        mimeType: 'text/markdown',
        buffer: Buffer.from('# notes\n'),
      });
    await files().getByText('notes.md').waitFor();
    expect(await host.wc.files.text(workspaceId, 'notes.md')).toBe('# notes\n');
    await files().getByRole('button', { name: 'Delete notes.md' }).click();
    await files().getByText('notes.md').waitFor({ state: 'detached' });
    expect((await host.wc.files.list(workspaceId)).map((f) => f.path)).not.toContain('notes.md');
  });

  it('shows a pending approval with its input, and Allow / Deny decide it', async () => {
    await host.wc.agent.set(workspaceId, { permissions: { ask: ['Bash'] } });
    try {
      await page.goto(`${host.url}/#/w/${workspaceId}/c/${conversationId}`);
      await send(
        'MOCK:{"tool": "Bash", "input": {"command": "echo console > /workspace/console.txt"}}',
      );
      const card = conversation().getByRole('group', { name: 'Approval for Bash' }).last();
      await card.getByText('echo console > /workspace/console.txt').first().waitFor();
      expect(await card.locator('pre').textContent()).toContain('"command"');
      await card.getByRole('button', { name: 'Allow' }).click();
      await card.getByText('Allowed').waitFor();
      expect(await card.getByRole('button', { name: 'Allow' }).count()).toBe(0);
      await page
        .getByRole('button', { name: 'Stop' })
        .waitFor({ state: 'hidden', timeout: 60_000 });
      expect(await host.wc.files.text(workspaceId, 'console.txt')).toBe('console\n');

      await send('MOCK:{"tool": "Bash", "input": {"command": "echo no > /workspace/refused.txt"}}');
      const second = conversation()
        .getByRole('group', { name: 'Approval for Bash' })
        .filter({ hasText: 'refused.txt' });
      await second.getByRole('button', { name: 'Deny' }).click();
      await second.getByText('Denied').waitFor();
      await page
        .getByRole('button', { name: 'Stop' })
        .waitFor({ state: 'hidden', timeout: 60_000 });
      const approvals = await host.wc.approvals.list(conversationId);
      expect(approvals.map((a) => a.status)).toEqual(['allowed', 'denied']);
      expect((await host.wc.files.list(workspaceId)).map((f) => f.path)).not.toContain(
        'refused.txt',
      );
    } finally {
      await host.wc.agent.set(workspaceId, {});
    }
  });

  it("shows the workspace's conversations and egress policy with its recent decisions", async () => {
    await page.goto(`${host.url}/#/w/${workspaceId}`);
    const conversations = page.getByRole('region', { name: 'Conversations' });
    await conversations.getByRole('link').first().waitFor();
    // This one and the one the busy-workspace test started through the API.
    expect(await conversations.getByRole('link').count()).toBe(2);
    const egress = page.getByRole('region', { name: 'Egress' });
    await egress.getByText('Allowed (effective)').waitFor();
    await egress.getByText('Recent decisions').waitFor();
  });

  it('lists snapshots and restores one; forks the workspace; forks and rewinds the conversation at a run', async () => {
    await page.goto(`${host.url}/#/w/${workspaceId}`);
    const snapshots = page.getByRole('table', { name: 'Snapshots of the workspace' });
    await snapshots.waitFor();
    // The runs that wrote report.txt and console.txt each recorded one.
    const recorded = await host.wc.snapshots.list(workspaceId);
    expect(recorded.length).toBeGreaterThanOrEqual(2);
    expect(await snapshots.locator('tbody tr').count()).toBe(recorded.length);
    const oldest = recorded.at(-1);
    if (!oldest?.runId) throw new Error('the oldest snapshot names no run');
    const oldestRow = snapshots.locator(`tr[data-snapshot="${oldest.id}"]`);
    await oldestRow.getByText(oldest.runId).waitFor();

    // Restore the oldest (after the first run): console.txt, written later, goes.
    page.once('dialog', (dialog) => void dialog.accept());
    await oldestRow.getByRole('button', { name: 'Restore' }).click();
    await files().getByText('console.txt').waitFor({ state: 'detached' });
    const paths = (await host.wc.files.list(workspaceId)).map((f) => f.path);
    expect(paths).toContain('report.txt');
    expect(paths).not.toContain('console.txt');

    // Fork the workspace: the fork opens, with the files and conversations of the source.
    await page.getByRole('button', { name: 'Fork workspace' }).click();
    await page.waitForURL(
      (url) => !url.hash.endsWith(workspaceId) && /#\/w\/[^/]+$/.test(url.hash),
    );
    const forkId = /#\/w\/([^/]+)$/.exec(page.url())?.[1] ?? '';
    try {
      await page.getByRole('heading', { name: `${workspaceName} (fork)` }).waitFor();
      await files().getByText('report.txt').waitFor();
      expect((await host.wc.conversations.list(forkId)).length).toBe(
        (await host.wc.conversations.list(workspaceId)).length,
      );
    } finally {
      await host.wc.workspaces.delete(forkId);
    }

    // Fork the conversation at its first run: the new one holds that run alone.
    await page.goto(`${host.url}/#/w/${workspaceId}/c/${conversationId}`);
    const before = await host.wc.conversations.history(conversationId);
    const firstRun = before.runs[0]?.runId ?? '';
    const firstRunButtons = conversation().getByRole('group', { name: `Run ${firstRun}` });
    await firstRunButtons.getByRole('button', { name: 'Fork from here' }).click();
    await page.waitForURL((url) => !url.hash.endsWith(conversationId));
    const forkedConversation = /\/c\/([^/]+)$/.exec(page.url())?.[1] ?? '';
    const forked = await host.wc.conversations.history(forkedConversation);
    expect(forked.runs.map((r) => r.runId)).toEqual([firstRun]);
    await expect.poll(() => conversation().textContent()).toContain('streamed streamed');
    expect(await conversation().getByText('console.txt').count()).toBe(0);

    // Rewind the conversation to its first run, its files left as they are (Cancel).
    await page.goto(`${host.url}/#/w/${workspaceId}/c/${conversationId}`);
    page.once('dialog', (dialog) => void dialog.dismiss());
    await firstRunButtons.getByRole('button', { name: 'Rewind to here' }).click();
    await conversation().getByRole('group', { name: 'Rewound turn' }).first().waitFor();
    const after = await host.wc.conversations.history(conversationId);
    expect(after.runs[0]?.rewound).toBe(false);
    expect(after.runs.slice(1).every((r) => r.rewound)).toBe(true);
    expect(await conversation().getByRole('group', { name: 'Rewound turn' }).count()).toBe(
      after.runs.length - 1,
    );
    // A rewound run offers no run buttons; the run rewound to still does.
    expect(await conversation().getByRole('button', { name: 'Rewind to here' }).count()).toBe(1);
  });

  it('shows containers and the warm pool to an admin token only', async () => {
    expect(await page.getByRole('link', { name: 'Containers' }).isVisible()).toBe(false);
    const adminContext = await browser.newContext();
    const adminPage = await adminContext.newPage();
    try {
      await signIn(adminPage, admin);
      await adminPage.getByRole('link', { name: 'Containers' }).click();
      const table = adminPage.getByRole('table', { name: 'Containers' });
      await table.waitFor();
      const { container } = await host.wc.workspaces.get(workspaceId);
      await table.getByText(container?.id.slice(0, 12) ?? '?').waitFor();
      await adminPage
        .getByRole('region', { name: 'Warm pool' })
        .getByText('Warm')
        .first()
        .waitFor();
    } finally {
      await adminContext.close();
    }
  });

  it('deletes a workspace from the list', async () => {
    await page.goto(`${host.url}/#/`);
    const del = page.getByRole('button', { name: `Delete workspace ${workspaceName}` });
    await del.click();
    // The first click arms the button ("Confirm delete"); the second deletes.
    await del.getByText('Confirm delete').waitFor();
    await del.click();
    await page.getByRole('link', { name: workspaceName }).waitFor({ state: 'detached' });
    expect((await host.wc.workspaces.list()).map((w) => w.id)).not.toContain(workspaceId);
  });

  it('asked nothing of any origin but its own', () => {
    const origin = new URL(host.url).origin;
    expect(requested.length).toBeGreaterThan(0);
    expect(requested.filter((u) => !u.startsWith(origin) && !u.startsWith('blob:'))).toEqual([]);
  });
});
