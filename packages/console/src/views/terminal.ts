import type { TerminalServerMessage } from '@workcell/client';
import { h, replace } from '../dom.js';
import { adoptXtermStyles } from '../xterm-styles.js';
import type { ViewContext } from './context.js';

/**
 * A workspace's Terminal tab: a shell in its container (bash as uid 1000 in /workspace) drawn
 * by xterm.js over the terminal WebSocket, opened with a single-use ticket. Keystrokes go as binary frames, the size as a
 * `resize` message whenever the view changes size; leaving the view closes the socket, which
 * ends the shell (its changes are synced out).
 */
export async function terminalView(ctx: ViewContext, workspaceId: string): Promise<void> {
  const status = h('p', { class: 'muted', role: 'status' }, 'Connecting…');
  const screen = h('div', { class: 'terminal-screen' });
  const region = h('section', { class: 'panel', 'aria-label': 'Terminal' }, status, screen);
  replace(
    ctx.root,
    h('p', {}, h('a', { href: `#/w/${encodeURIComponent(workspaceId)}` }, '← Workspace')),
    h('h1', {}, 'Terminal'),
    region,
  );

  const [{ Terminal }, { FitAddon }] = await Promise.all([
    import('@xterm/xterm'),
    import('@xterm/addon-fit'),
  ]);
  if (ctx.signal.aborted) return;
  const term = new Terminal({ cursorBlink: true, fontSize: 14, scrollback: 5000 });
  const fit = new FitAddon();
  term.loadAddon(fit);
  const dropStyles = adoptXtermStyles(screen);
  term.open(screen);
  fit.fit();

  // A single-use ticket, not the API token, goes in the socket's URL (URLs end up in history
  // and proxy logs).
  let ticket: string;
  try {
    ({ ticket } = await ctx.wc.tickets.create(
      { workspaceId, purpose: 'terminal' },
      { signal: ctx.signal },
    ));
  } catch (err) {
    if (ctx.signal.aborted) return;
    status.textContent = `The terminal could not be opened: ${err instanceof Error ? err.message : String(err)}`;
    term.dispose();
    dropStyles();
    return;
  }
  if (ctx.signal.aborted) {
    term.dispose();
    dropStyles();
    return;
  }
  const socket = new WebSocket(
    ctx.wc.terminal.url(workspaceId, { cols: term.cols, rows: term.rows, ticket }),
  );
  socket.binaryType = 'arraybuffer';
  const encoder = new TextEncoder();
  const typed = term.onData((data) => {
    if (socket.readyState === WebSocket.OPEN) socket.send(encoder.encode(data));
  });
  const resized = term.onResize(({ cols, rows }) => {
    if (socket.readyState === WebSocket.OPEN)
      socket.send(JSON.stringify({ type: 'resize', cols, rows }));
  });
  const observer = new ResizeObserver(() => fit.fit());
  observer.observe(screen);

  socket.addEventListener('message', (ev: MessageEvent<ArrayBuffer | string>) => {
    if (typeof ev.data !== 'string') {
      term.write(new Uint8Array(ev.data));
      return;
    }
    const message = JSON.parse(ev.data) as TerminalServerMessage;
    if (message.type === 'ready') {
      status.textContent = 'Connected: bash in /workspace.';
      term.focus();
    } else if (message.type === 'exit') {
      status.textContent =
        message.reason === 'idle'
          ? 'The terminal was closed after being idle.'
          : `The shell ended${message.exitCode === null ? '' : ` (exit code ${message.exitCode})`}.`;
    }
  });
  socket.addEventListener('close', (ev) => {
    if (ev.code !== 1000 && status.textContent === 'Connecting…')
      status.textContent = 'The terminal could not be opened (see the workspace page for why).';
  });

  ctx.signal.addEventListener('abort', () => {
    socket.close();
    observer.disconnect();
    typed.dispose();
    resized.dispose();
    term.dispose();
    dropStyles();
  });
}
