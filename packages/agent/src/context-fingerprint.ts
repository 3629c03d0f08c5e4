import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** Files and folders of a workspace the CLI reads once, when its process starts. */
const CONTEXT_ENTRIES = ['CLAUDE.md', 'CLAUDE.local.md', '.mcp.json', '.claude', '.git'];

/** The most entries a git work tree may have for its state to be fingerprinted. */
const MAX_TREE_ENTRIES = 5000;

/**
 * What a Claude Code process takes from the workspace when it starts, as a string that
 * changes when any of it changes: the memory files (`CLAUDE.md`, `CLAUDE.local.md`), project
 * and local settings and agents (`.claude/`), `.mcp.json`, and for a git work tree every
 * file's size and modification time (the CLI snapshots `git status` at start). A process
 * started earlier is only used for a run when the fingerprint is still the same, so it sees
 * what a fresh one would. Null when the tree is too large to fingerprint (never reused).
 */
export async function contextFingerprint(workspaceDir: string): Promise<string | null> {
  const parts: string[] = [];
  const budget = { left: MAX_TREE_ENTRIES };
  for (const name of CONTEXT_ENTRIES) {
    if (!(await describe(workspaceDir, name, parts, budget))) return null;
  }
  if (parts.some((p) => p.startsWith('.git:d'))) {
    const entries = await readdir(workspaceDir).catch(() => [] as string[]);
    for (const name of entries.sort()) {
      if (CONTEXT_ENTRIES.includes(name)) continue;
      if (!(await describe(workspaceDir, name, parts, budget))) return null;
    }
  }
  return parts.join('\n');
}

/** Appends `path`'s entries (recursively for a folder); false when the budget ran out. */
async function describe(
  root: string,
  path: string,
  parts: string[],
  budget: { left: number },
): Promise<boolean> {
  if (--budget.left < 0) return false;
  const full = join(root, path);
  const stat = await lstat(full).catch(() => null);
  if (!stat) {
    parts.push(`${path}:-`);
    return true;
  }
  if (!stat.isDirectory()) {
    parts.push(`${path}:f:${stat.size}:${stat.mtimeMs}`);
    return true;
  }
  parts.push(`${path}:d`);
  // Inside .git only what names the checked-out commit and the index matters to `git status`.
  const children =
    path === '.git' ? ['HEAD', 'index'] : (await readdir(full).catch(() => [] as string[])).sort();
  for (const child of children) {
    if (!(await describe(root, join(path, child), parts, budget))) return false;
  }
  return true;
}
