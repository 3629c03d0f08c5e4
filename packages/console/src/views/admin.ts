import { formatTime, h, replace } from '../dom.js';
import { describeError } from '../session.js';
import type { ViewContext } from './context.js';

/** For an admin token: every managed container with its state, and the warm pool. */
export async function adminView(ctx: ViewContext): Promise<void> {
  const alert = h('p', { class: 'error', role: 'alert' });
  const body = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  replace(ctx.root, h('section', { class: 'panel' }, h('h1', {}, 'Containers'), alert, body));
  try {
    const [containers, health] = await Promise.all([
      ctx.wc.admin.containers({ signal: ctx.signal }),
      ctx.wc.health({ signal: ctx.signal }),
    ]);
    replace(
      body,
      h(
        'section',
        { 'aria-label': 'Warm pool' },
        h('h2', {}, 'Warm pool'),
        h(
          'dl',
          { class: 'counts' },
          h('dt', {}, 'Warm'),
          h('dd', {}, String(health.pool.warm)),
          h('dt', {}, 'Assigned'),
          h('dd', {}, String(health.pool.assigned)),
          h('dt', {}, 'Running'),
          h('dd', {}, String(health.pool.running)),
        ),
      ),
      containers.length === 0
        ? h('p', { class: 'muted' }, 'No containers.')
        : h(
            'table',
            { 'aria-label': 'Containers' },
            h(
              'thead',
              {},
              h(
                'tr',
                {},
                ['Container', 'State', 'Engine', 'Workspace', 'Tenant', 'Created'].map((t) =>
                  h('th', {}, t),
                ),
              ),
            ),
            h(
              'tbody',
              {},
              containers.map((c) =>
                h(
                  'tr',
                  {},
                  h('td', {}, h('code', {}, c.id.slice(0, 12))),
                  h('td', {}, c.state ?? '(no record)'),
                  h('td', {}, c.engine ? c.engine.status : '(not in the engine)'),
                  h('td', {}, c.workspaceId ?? ''),
                  h('td', {}, c.tenant ?? ''),
                  h('td', {}, formatTime(c.createdAt)),
                ),
              ),
            ),
          ),
    );
  } catch (err) {
    alert.textContent = describeError(err);
  }
}
