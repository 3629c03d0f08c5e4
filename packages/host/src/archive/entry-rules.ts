import { WorkcellError } from '@workcell/protocol';
import { workspacePathProblem } from '../storage/workspace-path.js';

/** What an archive entry is, as far as the rules care. */
export type EntryKind = 'file' | 'directory' | 'link' | 'special';

const DRIVE_LETTER = /^[A-Za-z]:/;

function unsafe(name: string, reason: string): WorkcellError {
  return new WorkcellError(
    'archive_unsafe_path',
    `archive entry ${JSON.stringify(name.slice(0, 200))} is refused: ${reason}`,
  );
}

/**
 * The workspace path an archive entry unpacks to, under `folder` (a checked workspace path, or
 * '' for the root); null for the archive's own root (`./`), which is skipped. A leading `./`
 * is dropped (tar's usual form) and a folder's trailing `/`; everything else must already be a
 * valid workspace path (`checkWorkspacePath`): no `..`, no absolute path, no backslash, no
 * control character. A Windows drive (`C:`) is refused too. `name` is null when the archive's
 * bytes for it are not UTF-8. Throws `archive_unsafe_path` naming the entry.
 */
export function entryTarget(name: string | null, kind: EntryKind, folder: string): string | null {
  if (name === null) throw unsafe('(not UTF-8)', 'the name is not UTF-8');
  let path = name;
  if (kind === 'directory' && path.endsWith('/')) path = path.slice(0, -1);
  while (path.startsWith('./')) path = path.slice(2);
  if (path === '' || path === '.') {
    if (kind === 'directory') return null;
    throw unsafe(name, 'a file with no name');
  }
  if (DRIVE_LETTER.test(path)) throw unsafe(name, 'names a Windows drive');
  const problem = workspacePathProblem(path);
  if (problem !== null) throw unsafe(name, problem);
  const target = folder === '' ? path : `${folder}/${path}`;
  const whole = workspacePathProblem(target);
  if (whole !== null) throw unsafe(name, `under ${folder}: ${whole}`);
  return target;
}

/** Refuses links and special files, naming the entry and what it is. */
export function checkEntryKind(name: string | null, kind: EntryKind, type: string): void {
  const shown = JSON.stringify((name ?? '(not UTF-8)').slice(0, 200));
  if (kind === 'link') {
    throw new WorkcellError(
      'archive_link_refused',
      `archive entry ${shown} is a ${type}: workspace archives hold regular files and folders only`,
    );
  }
  if (kind === 'special') {
    throw new WorkcellError(
      'archive_special_file',
      `archive entry ${shown} is a ${type}: workspace archives hold regular files and folders only`,
    );
  }
}

/** Every folder above `path` (`a/b/c` -> `a`, `a/b`). */
function* ancestors(path: string): Generator<string> {
  let at = path.indexOf('/');
  while (at !== -1) {
    yield path.slice(0, at);
    at = path.indexOf('/', at + 1);
  }
}

/**
 * The paths an archive unpacks to, checked as they come against each other and against the
 * workspace: a path named twice, or as both a file and a folder, is `archive_duplicate_path`;
 * a file where the workspace has a folder of files (or under one of its files or links) is
 * `conflict`, as the files API answers. A file may replace a workspace file of the same path.
 */
export class UnpackPlan {
  private readonly files = new Set<string>();
  private readonly dirs = new Set<string>();
  private readonly existingDirs = new Set<string>();

  /** `existing`: the workspace's files and links (their paths). */
  constructor(private readonly existing: ReadonlySet<string>) {
    for (const path of existing) for (const dir of ancestors(path)) this.existingDirs.add(dir);
  }

  /** The files planned, in archive order. */
  get filePaths(): ReadonlySet<string> {
    return this.files;
  }

  addFile(path: string): void {
    if (this.files.has(path)) throw duplicate(path, 'is named twice');
    if (this.dirs.has(path)) throw duplicate(path, 'is both a file and a folder');
    if (this.existingDirs.has(path)) throw clash(path, 'is a folder of files in the workspace');
    this.addAncestors(path);
    this.files.add(path);
  }

  addDirectory(path: string): void {
    if (this.files.has(path)) throw duplicate(path, 'is both a file and a folder');
    if (this.existing.has(path)) throw clash(path, 'is a file in the workspace');
    this.addAncestors(path);
    this.dirs.add(path);
  }

  private addAncestors(path: string): void {
    for (const dir of ancestors(path)) {
      if (this.files.has(dir)) throw duplicate(dir, 'is both a file and a folder');
      if (this.existing.has(dir)) throw clash(path, `lies under ${dir}, a file in the workspace`);
      this.dirs.add(dir);
    }
  }
}

function duplicate(path: string, what: string): WorkcellError {
  return new WorkcellError('archive_duplicate_path', `archive path ${path} ${what}`);
}

function clash(path: string, what: string): WorkcellError {
  return new WorkcellError(
    'conflict',
    `archive path ${path} ${what}: a name cannot be both a file and a folder`,
  );
}
