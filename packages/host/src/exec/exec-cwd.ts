import { CONTAINER_PATHS, WorkcellError } from '@workcell/protocol';
import { errnoOf, openDirBeneath, openRoot } from '../sync/safe-fs.js';

/**
 * Checks that `cwd` (an absolute path under /workspace, already checked lexically) is a
 * directory of the workspace, walking the container's workspace directory on the host without
 * following a symlink: a missing folder, a file or a path through a link answers
 * `invalid_path` before the command starts, rather than the engine's own failure after.
 */
export async function checkWorkspaceCwd(workspaceDir: string, cwd: string): Promise<void> {
  const segments = cwd
    .slice(CONTAINER_PATHS.workspace.length)
    .split('/')
    .filter((s) => s !== '');
  if (segments.length === 0) return;
  const root = await openRoot(workspaceDir);
  try {
    const dir = await openDirBeneath(root, segments);
    await dir.close();
  } catch (err) {
    const code = errnoOf(err);
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP')
      throw new WorkcellError(
        'invalid_path',
        `cwd ${cwd} is not a directory of the workspace (missing, a file, or reached through a symlink)`,
      );
    throw err;
  } finally {
    await root.close();
  }
}
