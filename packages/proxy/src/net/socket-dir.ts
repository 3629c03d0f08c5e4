import { lstat, mkdir } from 'node:fs/promises';

/**
 * Makes sure a listener's socket directory is one only this process can write: it exists (created
 * 0755 when missing), is a real directory (not a link), is owned by this process's user and is
 * not group- or world-writable. The proxy chmods the socket by path after `listen()`; in such a
 * directory nobody else can swap that path for a link between the two calls. A workspace's own
 * writable directories (mounted into its container) are refused.
 */
export async function checkSocketDirectory(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const stat = await lstat(dir);
  const uid = process.getuid?.();
  if (!stat.isDirectory()) throw new Error(`${dir} is not a directory`);
  if (uid !== undefined && stat.uid !== uid)
    throw new Error(`${dir} is owned by uid ${stat.uid}, not by the proxy (uid ${uid})`);
  if ((stat.mode & 0o022) !== 0)
    throw new Error(
      `${dir} is writable by other users; an egress socket needs a private directory`,
    );
}
