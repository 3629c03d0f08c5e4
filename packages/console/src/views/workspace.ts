import type { EgressView } from '@workcell/client';
import { formatTime, h, replace } from '../dom.js';
import { FilesPanel } from '../files-panel.js';
import { SnapshotsPanel } from '../snapshots-panel.js';
import { describeError } from '../session.js';
import type { ViewContext } from './context.js';

function egressPanel(view: EgressView): HTMLElement {
  const hosts = (list: string[]): string => (list.length ? list.join(', ') : '(none)');
  return h(
    'section',
    { class: 'panel', 'aria-label': 'Egress' },
    h('h2', {}, 'Egress'),
    h(
      'dl',
      {},
      h('dt', {}, 'Allowed (effective)'),
      h('dd', {}, hosts(view.effective.allow)),
      h('dt', {}, 'Denied'),
      h('dd', {}, hosts(view.effective.deny)),
      h('dt', {}, "Operator's list"),
      h('dd', {}, hosts(view.operator.allow)),
      h('dt', {}, 'Narrowed for this workspace'),
      h('dd', {}, view.hosts === null ? 'no (the operator’s list applies)' : hosts(view.hosts)),
    ),
    h('h3', {}, 'Recent decisions'),
    view.recent.length === 0
      ? h('p', { class: 'muted' }, 'No egress requests yet.')
      : h(
          'table',
          { 'aria-label': 'Recent egress decisions' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ['Time', 'Method', 'Host', 'Decision', 'Reason', 'Status'].map((t) => h('th', {}, t)),
            ),
          ),
          h(
            'tbody',
            {},
            view.recent
              .slice()
              .reverse()
              .map((r) =>
                h(
                  'tr',
                  { class: r.decision },
                  h('td', {}, formatTime(r.time)),
                  h('td', {}, r.method),
                  h('td', {}, `${r.host ?? ''}${r.port ? `:${r.port}` : ''}`),
                  h('td', {}, r.decision),
                  h('td', {}, r.reason),
                  h('td', {}, r.status === null ? '' : String(r.status)),
                ),
              ),
          ),
        ),
  );
}

/**
 * One workspace: its conversations ("New conversation"), its files and snapshots, its egress
 * policy, and "Fork workspace" (a copy of its latest snapshot and conversations, opened at once).
 */
export async function workspaceView(ctx: ViewContext, workspaceId: string): Promise<void> {
  const alert = h('p', { class: 'error', role: 'alert' });
  const header = h('div', {}, h('h1', {}, 'Workspace'));
  const conversations = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  const egress = h('div', {});
  const files = new FilesPanel(ctx.wc, workspaceId);
  const snapshots = new SnapshotsPanel(ctx.wc, workspaceId, () => void files.refresh());
  const fork = h('button', { type: 'button' }, 'Fork workspace');
  fork.addEventListener('click', () => {
    fork.disabled = true;
    ctx.wc.workspaces.fork(workspaceId).then(
      (forked) => ctx.navigate(`#/w/${forked.workspace.id}`),
      (err: unknown) => {
        fork.disabled = false;
        alert.textContent = describeError(err);
      },
    );
  });
  const newConversation = h('button', { type: 'button' }, 'New conversation');
  newConversation.addEventListener('click', () => {
    ctx.wc.conversations.create(workspaceId).then(
      (c) => ctx.navigate(`#/w/${workspaceId}/c/${c.id}`),
      (err: unknown) => {
        alert.textContent = describeError(err);
      },
    );
  });
  replace(
    ctx.root,
    h('p', {}, h('a', { href: '#/' }, '← Workspaces')),
    header,
    h(
      'nav',
      { class: 'tabs', 'aria-label': 'Workspace' },
      h('a', { href: `#/w/${encodeURIComponent(workspaceId)}/terminal` }, 'Terminal'),
    ),
    h('div', { class: 'row' }, fork),
    alert,
    h(
      'div',
      { class: 'columns' },
      h(
        'div',
        {},
        h(
          'section',
          { class: 'panel', 'aria-label': 'Conversations' },
          h('h2', {}, 'Conversations'),
          newConversation,
          conversations,
        ),
        egress,
      ),
      h('div', {}, files.element, snapshots.element),
    ),
  );
  try {
    const [ws, list, policy] = await Promise.all([
      ctx.wc.workspaces.get(workspaceId, { signal: ctx.signal }),
      ctx.wc.conversations.list(workspaceId, { signal: ctx.signal }),
      ctx.wc.egress.get(workspaceId, { signal: ctx.signal }),
      files.refresh(),
      snapshots.refresh(),
    ]);
    replace(
      header,
      h('h1', {}, ws.name),
      h(
        'p',
        { class: 'muted' },
        h('code', {}, ws.id),
        ` · created ${formatTime(ws.createdAt)} · container: ${ws.container ? ws.container.state : 'none'}`,
      ),
    );
    replace(
      conversations,
      list.length === 0
        ? h('p', { class: 'muted' }, 'No conversations yet.')
        : h(
            'ul',
            { class: 'items' },
            list.map((c) =>
              h(
                'li',
                {},
                h('a', { href: `#/w/${workspaceId}/c/${c.id}` }, c.title || c.id),
                h('span', { class: 'muted' }, formatTime(c.createdAt)),
              ),
            ),
          ),
    );
    replace(egress, egressPanel(policy));
  } catch (err) {
    alert.textContent = describeError(err);
  }
}
