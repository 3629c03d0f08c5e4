import type { Snapshot, WorkcellClient } from '@workcell/client';
import { formatBytes, formatTime, h, replace } from './dom.js';
import { describeError } from './session.js';

/** How many snapshots the panel shows: the newest ones. */
const SHOWN = 20;

/**
 * A workspace's snapshots in a region named "Snapshots", newest first: "Take snapshot", and on
 * each row "Restore" (the workspace's files become the snapshot's, after a confirmation).
 * `restored` runs after a restore, so the files beside it can refresh.
 */
export class SnapshotsPanel {
  readonly element: HTMLElement;
  private readonly list: HTMLElement;
  private readonly alert: HTMLElement;

  constructor(
    private readonly wc: WorkcellClient,
    private readonly workspaceId: string,
    private readonly restored: () => void,
  ) {
    this.list = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
    this.alert = h('p', { class: 'error', role: 'alert' });
    this.element = h(
      'section',
      { class: 'panel', 'aria-label': 'Snapshots' },
      h('h2', {}, 'Snapshots'),
      h(
        'div',
        { class: 'row' },
        h('button', { type: 'button', onclick: () => void this.take() }, 'Take snapshot'),
      ),
      this.alert,
      this.list,
    );
  }

  async refresh(): Promise<void> {
    try {
      const page = await this.wc.snapshots.page(this.workspaceId, { limit: SHOWN });
      this.show(page.items);
      this.alert.textContent = '';
    } catch (err) {
      this.alert.textContent = describeError(err);
    }
  }

  private async take(): Promise<void> {
    try {
      await this.wc.snapshots.take(this.workspaceId);
      await this.refresh();
    } catch (err) {
      this.alert.textContent = describeError(err);
    }
  }

  private async restore(snapshot: Snapshot): Promise<void> {
    if (!confirm(`Restore the files of ${formatTime(snapshot.createdAt)}? Later changes are lost.`))
      return;
    try {
      await this.wc.snapshots.restore(this.workspaceId, snapshot.id);
      this.alert.textContent = '';
      this.restored();
    } catch (err) {
      this.alert.textContent = describeError(err);
    }
  }

  private show(snapshots: Snapshot[]): void {
    if (snapshots.length === 0) {
      replace(
        this.list,
        h('p', { class: 'muted' }, 'No snapshots yet: a run that changes files records one.'),
      );
      return;
    }
    replace(
      this.list,
      h(
        'table',
        { 'aria-label': 'Snapshots of the workspace' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['Taken', 'Run', 'Files', 'Size', ''].map((t) => h('th', {}, t)),
          ),
        ),
        h(
          'tbody',
          {},
          snapshots.map((s) =>
            h(
              'tr',
              { 'data-snapshot': s.id },
              h('td', {}, formatTime(s.createdAt)),
              h('td', {}, s.runId ? h('code', {}, s.runId) : h('span', { class: 'muted' }, '—')),
              h('td', {}, String(s.files)),
              h('td', {}, formatBytes(s.bytes)),
              h(
                'td',
                {},
                h('button', { type: 'button', onclick: () => void this.restore(s) }, 'Restore'),
              ),
            ),
          ),
        ),
      ),
    );
  }
}
