import type { WorkcellClient } from '@workcell/client';
import { h, replace } from './dom.js';
import { clientFor, signOut, storedToken } from './session.js';
import { adminView } from './views/admin.js';
import { conversationView } from './views/conversation.js';
import { signInView } from './views/sign-in.js';
import { terminalView } from './views/terminal.js';
import { workspaceView } from './views/workspace.js';
import { workspacesView } from './views/workspaces.js';

/**
 * The console: a hash router over the views. The URL names what is shown
 * (`#/w/<workspace>/c/<conversation>`), so a reload or a shared link opens the same view.
 */
const root = document.getElementById('app') as HTMLElement;
const nav = document.getElementById('nav') as HTMLElement;

let current: AbortController | null = null;
/** Whether the token is an admin's: the admin route answers 404 to anyone else. */
let admin: Promise<boolean> | null = null;

function drawNav(wc: WorkcellClient | null): void {
  if (!wc) {
    replace(nav);
    return;
  }
  const signOutButton = h('button', { type: 'button', class: 'link' }, 'Sign out');
  signOutButton.addEventListener('click', () => {
    signOut();
    admin = null;
    location.hash = '#/';
    route();
  });
  const adminLink = h('a', { href: '#/admin', hidden: true }, 'Containers');
  replace(nav, h('a', { href: '#/' }, 'Workspaces'), adminLink, signOutButton);
  admin ??= wc.admin.containers().then(
    () => true,
    () => false,
  );
  void admin.then((yes) => {
    adminLink.hidden = !yes;
  });
}

function route(): void {
  current?.abort();
  const controller = new AbortController();
  current = controller;
  const token = storedToken();
  if (!token) {
    drawNav(null);
    signInView(root, route);
    return;
  }
  const wc = clientFor(token);
  drawNav(wc);
  const ctx = {
    wc,
    root,
    signal: controller.signal,
    navigate: (hash: string) => {
      location.hash = hash;
    },
    reload: route,
  };
  const parts = location.hash
    .replace(/^#\/?/, '')
    .split('/')
    .filter(Boolean)
    .map(decodeURIComponent);
  let view: Promise<void>;
  if (parts[0] === 'w' && parts[1] && parts[2] === 'c' && parts[3])
    view = conversationView(ctx, parts[1], parts[3]);
  else if (parts[0] === 'w' && parts[1] && parts[2] === 'terminal')
    view = terminalView(ctx, parts[1]);
  else if (parts[0] === 'w' && parts[1]) view = workspaceView(ctx, parts[1]);
  else if (parts[0] === 'admin') view = adminView(ctx);
  else view = workspacesView(ctx);
  view.catch((err: unknown) => {
    if (!controller.signal.aborted)
      replace(root, h('p', { class: 'error', role: 'alert' }, String(err)));
  });
}

window.addEventListener('hashchange', route);
route();
