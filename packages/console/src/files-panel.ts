import type { FileEntry, WorkcellClient } from '@workcell/client';
import { formatBytes, formatTime, h, replace } from './dom.js';
import { describeError } from './session.js';

/**
 * A workspace's files in a region named "Files": list, download, upload, delete. `refresh()`
 * reloads the list (the chat calls it when a run ends, so the files the agent wrote appear).
 */
export class FilesPanel {
  readonly element: HTMLElement;
  private readonly list: HTMLElement;
  private readonly alert: HTMLElement;

  constructor(
    private readonly wc: WorkcellClient,
    private readonly workspaceId: string,
  ) {
    this.list = h('div', { class: 'file-list' });
    this.alert = h('p', { class: 'error', role: 'alert' });
    const input = h('input', { type: 'file', id: 'upload', multiple: true });
    input.addEventListener('change', () => void this.upload(input));
    this.element = h(
      'section',
      { class: 'panel files', 'aria-label': 'Files' },
      h('h2', {}, 'Files'),
      h(
        'div',
        { class: 'row' },
        h('label', { for: 'upload', class: 'button' }, 'Upload file'),
        input,
        h('button', { type: 'button', onclick: () => void this.refresh() }, 'Refresh files'),
      ),
      this.alert,
      this.list,
    );
  }

  async refresh(): Promise<void> {
    try {
      this.show(await this.wc.files.list(this.workspaceId));
      this.alert.textContent = '';
    } catch (err) {
      this.alert.textContent = describeError(err);
    }
  }

  private show(files: FileEntry[]): void {
    if (files.length === 0) {
      replace(this.list, h('p', { class: 'muted' }, 'No files yet.'));
      return;
    }
    replace(
      this.list,
      h(
        'table',
        {},
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', {}, 'Path'),
            h('th', {}, 'Size'),
            h('th', {}, 'Modified'),
            h('th', {}, ''),
          ),
        ),
        h(
          'tbody',
          {},
          files.map((f) =>
            h(
              'tr',
              {},
              h('td', { class: 'path' }, f.path),
              h('td', {}, formatBytes(f.size)),
              h('td', {}, formatTime(f.modifiedAt)),
              h(
                'td',
                { class: 'actions' },
                h(
                  'button',
                  {
                    type: 'button',
                    'aria-label': `Download ${f.path}`,
                    onclick: () => void this.download(f.path),
                  },
                  'Download',
                ),
                h(
                  'button',
                  {
                    type: 'button',
                    class: 'danger',
                    'aria-label': `Delete ${f.path}`,
                    onclick: () => void this.remove(f.path),
                  },
                  'Delete',
                ),
              ),
            ),
          ),
        ),
      ),
    );
  }

  private async download(path: string): Promise<void> {
    try {
      const file = await this.wc.files.download(this.workspaceId, path);
      const blob = await new Response(file.body).blob();
      const url = URL.createObjectURL(blob);
      const a = h('a', { href: url, download: path.split('/').pop() ?? 'file' });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
    } catch (err) {
      this.alert.textContent = describeError(err);
    }
  }

  private async remove(path: string): Promise<void> {
    try {
      await this.wc.files.delete(this.workspaceId, path);
      await this.refresh();
    } catch (err) {
      this.alert.textContent = describeError(err);
    }
  }

  private async upload(input: HTMLInputElement): Promise<void> {
    try {
      for (const file of Array.from(input.files ?? [])) {
        await this.wc.files.upload(this.workspaceId, file.name, file);
      }
      input.value = '';
      await this.refresh();
    } catch (err) {
      this.alert.textContent = describeError(err);
    }
  }
}
