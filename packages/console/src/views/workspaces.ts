import { formatTime, h, replace } from '../dom.js';
import { describeError } from '../session.js';
import type { ViewContext } from './context.js';

/** A button that deletes on a second click, so one slip deletes nothing. */
export function confirmButton(
  label: string,
  name: string,
  action: () => Promise<void>,
): HTMLButtonElement {
  const button = h('button', { type: 'button', class: 'danger', 'aria-label': name }, label);
  let armed = false;
  button.addEventListener('click', () => {
    if (!armed) {
      armed = true;
      button.textContent = 'Confirm delete';
      setTimeout(() => {
        armed = false;
        button.textContent = label;
      }, 4_000);
      return;
    }
    button.disabled = true;
    void action().finally(() => {
      button.disabled = false;
    });
  });
  return button;
}

/** The tenant's workspaces: list, create ("New workspace"), delete. */
export async function workspacesView(ctx: ViewContext): Promise<void> {
  const alert = h('p', { class: 'error', role: 'alert' });
  const list = h('div', { class: 'list' }, h('p', { class: 'muted' }, 'Loading…'));
  const name = h('input', {
    id: 'ws-name',
    type: 'text',
    placeholder: 'demo',
    autocomplete: 'off',
  });
  const form = h(
    'form',
    { class: 'row' },
    h('label', { for: 'ws-name' }, 'Workspace name'),
    name,
    h('button', { type: 'submit' }, 'New workspace'),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const input = name.value.trim();
    ctx.wc.workspaces.create(input ? { name: input } : {}).then(
      (ws) => ctx.navigate(`#/w/${ws.id}`),
      (err: unknown) => {
        alert.textContent = describeError(err);
      },
    );
  });
  replace(ctx.root, h('section', { class: 'panel' }, h('h1', {}, 'Workspaces'), form, alert, list));

  const load = async (): Promise<void> => {
    const workspaces = await ctx.wc.workspaces.list({ signal: ctx.signal });
    if (workspaces.length === 0) {
      replace(list, h('p', { class: 'muted' }, 'No workspaces yet.'));
      return;
    }
    replace(
      list,
      h(
        'ul',
        { class: 'items', 'aria-label': 'Workspaces' },
        workspaces.map((ws) =>
          h(
            'li',
            {},
            h('a', { href: `#/w/${ws.id}` }, ws.name),
            h('code', {}, ws.id),
            h('span', { class: 'muted' }, formatTime(ws.createdAt)),
            confirmButton('Delete', `Delete workspace ${ws.name}`, async () => {
              try {
                await ctx.wc.workspaces.delete(ws.id);
                await load();
              } catch (err) {
                alert.textContent = describeError(err);
              }
            }),
          ),
        ),
      ),
    );
  };
  await load().catch((err: unknown) => {
    alert.textContent = describeError(err);
  });
}
