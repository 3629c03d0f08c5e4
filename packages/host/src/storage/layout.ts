import { WorkcellError } from '@workcell/protocol';
import { checkWorkspacePath } from './workspace-path.js';

/*
 * Every object key Workcell writes is built here.
 *
 *   tenants/<tenant>/workspaces/<wid>/meta.json                       the workspace record
 *   tenants/<tenant>/workspaces/<wid>/manifest.json                   file manifest (sync)
 *   tenants/<tenant>/workspaces/<wid>/files/<path>                    workspace files
 *   tenants/<tenant>/workspaces/<wid>/sessions-manifest.json          session manifest (sync)
 *   tenants/<tenant>/workspaces/<wid>/sessions/<relpath>              the agent's CLAUDE_CONFIG_DIR
 *   tenants/<tenant>/workspaces/<wid>/egress.json                     the workspace's narrowed egress hosts
 *   tenants/<tenant>/workspaces/<wid>/secrets/<name>.json             a workspace secret (value sealed)
 *   tenants/<tenant>/secrets/<name>.json                              a tenant secret (value sealed)
 *   tenants/<tenant>/workspaces/<wid>/agent.json                      the workspace's agent settings
 *   tenants/<tenant>/workspaces/<wid>/conversations/<cid>/meta.json   a conversation
 *   tenants/<tenant>/workspaces/<wid>/conversations/<cid>/runs/<rid>.ndjson   a run's events
 *   tenants/<tenant>/workspaces/<wid>/conversation-list/<created ms>.<cid>.json  a conversation, keyed in creation order
 *   tenants/<tenant>/workspaces/<wid>/conversation-list.ready         the list above covers every conversation
 *   tenants/<tenant>/conversation-index/<cid>.json                    cid -> wid
 *   tenants/<tenant>/workspace-index/<wid>.json                       one small record per workspace
 *   tenants/<tenant>/workspace-list/<created ms>.<wid>.json           the same, keyed in creation order (paged listing)
 *   tenants/<tenant>/workspace-list.ready                             the list above covers every workspace
 *   tenants/<tenant>/webhooks/<id>.json                               a webhook endpoint (with its signing secret)
 *   tenants/<tenant>/blobs/<sha256[0..2]>/<sha256>                    a workspace file's bytes, stored once per tenant
 *   tenants/<tenant>/blob-staging/<uuid>                              a streamed upload before its hash is known
 *   tenants/<tenant>/blob-gc.json                                     the blob collector's last mark (`snapshots/blob-gc.ts`)
 *   tenants/<tenant>/blob-holds/<id>.json                             a writer referencing stored blobs without uploading them
 *   tenants/<tenant>/workspaces/<wid>/snapshots/<snapshot id>.json    a snapshot: a manifest naming blobs
 *   tenants/<tenant>/managed-agents/<kind>/...                        Managed Agents records (`managed-agents/record-store.ts`)
 *   tenants/<tenant>/managed-agents/package-cache/<env>/<manager>-<hash>.tar.gz   an environment's installed packages
 *
 * A content-addressed manifest (version 2) names each file's bytes by sha256 under `blobs/`;
 * a version 1 manifest (written before blobs existed) names them under the workspace's `files/`.
 * Blobs are shared by every workspace and snapshot of the tenant, so deleting a workspace
 * leaves them to the blob collector.
 *
 * Everything of a workspace is under workspaceRoot(), so one deletePrefix removes it; the two
 * index entries live outside it (they are looked up by id alone) and are deleted by id.
 */

/** Tenant, workspace, conversation and run ids: 1-128 of `A-Z a-z 0-9 _ -`. */
export const ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;

export type IdKind = 'tenant' | 'workspace' | 'conversation' | 'run' | 'environment';

/** Whether `value` can be used as an id in a key (the API answers 404 for one that cannot). */
export function isValidId(value: string): boolean {
  return ID_PATTERN.test(value);
}

function id(kind: IdKind, value: string): string {
  if (!isValidId(value)) {
    throw new WorkcellError('bad_request', `invalid ${kind} id`, {
      [kind]: String(value).slice(0, 200),
    });
  }
  return value;
}

/** `tenants/<tenant>/`: everything a tenant owns. */
export function tenantRoot(tenant: string): string {
  return `tenants/${id('tenant', tenant)}/`;
}

/** `tenants/<tenant>/workspaces/<wid>/`: everything of one workspace (one deletePrefix). */
export function workspaceRoot(tenant: string, wid: string): string {
  return `${tenantRoot(tenant)}workspaces/${id('workspace', wid)}/`;
}

export function workspaceMetaKey(tenant: string, wid: string): string {
  return `${workspaceRoot(tenant, wid)}meta.json`;
}

/** Prefix of the workspace's files; a file's key is this plus its checked path. */
export function workspaceFilesPrefix(tenant: string, wid: string): string {
  return `${workspaceRoot(tenant, wid)}files/`;
}

/** Key of one workspace file; `path` must pass checkWorkspacePath. */
export function workspaceFileKey(tenant: string, wid: string, path: string): string {
  return workspaceFilesPrefix(tenant, wid) + checkWorkspacePath(path);
}

export function workspaceManifestKey(tenant: string, wid: string): string {
  return `${workspaceRoot(tenant, wid)}manifest.json`;
}

/** Prefix of the tenant's content-addressed file bytes. */
export function blobsPrefix(tenant: string): string {
  return `${tenantRoot(tenant)}blobs/`;
}

/** The object holding the bytes whose sha256 (lower-case hex) is `sha256`. */
export function blobKey(tenant: string, sha256: string): string {
  if (!/^[0-9a-f]{64}$/.test(sha256)) throw new WorkcellError('bad_request', 'invalid sha256');
  return `${blobsPrefix(tenant)}${sha256.slice(0, 2)}/${sha256}`;
}

/** The sha256 a key under blobsPrefix names, or null for other keys. */
export function sha256OfBlobKey(tenant: string, key: string): string | null {
  const prefix = blobsPrefix(tenant);
  if (!key.startsWith(prefix)) return null;
  const match = /^[0-9a-f]{2}\/([0-9a-f]{64})$/.exec(key.slice(prefix.length));
  return match?.[1] ?? null;
}

/** Prefix of streamed uploads not yet copied to their blob (a writer that died leaves one). */
export function blobStagingPrefix(tenant: string): string {
  return `${tenantRoot(tenant)}blob-staging/`;
}

/** Where a streamed upload lands before its hash names its blob; `token` is a random uuid. */
export function blobStagingKey(tenant: string, token: string): string {
  if (!/^[0-9a-f-]{36}$/.test(token)) throw new WorkcellError('bad_request', 'invalid token');
  return `${blobStagingPrefix(tenant)}${token}`;
}

/** The tenant whose root holds `key`, or null for a key outside every tenant. */
export function tenantOfKey(key: string): string | null {
  const match = /^tenants\/([A-Za-z0-9_-]{1,128})\//.exec(key);
  return match?.[1] ?? null;
}

/**
 * A key after every key of `tenant` and before every key of the tenants that sort after it:
 * `0` follows `/` and precedes every other id character that can follow a tenant id's end.
 */
export function afterTenantKey(tenant: string): string {
  return `${tenantRoot(tenant).slice(0, -1)}0`;
}

/** The blob collector's state: its last mark. */
export function blobGcKey(tenant: string): string {
  return `${tenantRoot(tenant)}blob-gc.json`;
}

export function blobHoldsPrefix(tenant: string): string {
  return `${tenantRoot(tenant)}blob-holds/`;
}

export function blobHoldKey(tenant: string, holdId: string): string {
  return `${blobHoldsPrefix(tenant)}${id('run', holdId)}.json`;
}

/** Prefix of a workspace's snapshots; ids sort newest first, so a listing is newest first. */
export function snapshotsPrefix(tenant: string, wid: string): string {
  return `${workspaceRoot(tenant, wid)}snapshots/`;
}

/** Snapshot ids: `snap_` + 13 digits (a descending time) + 12 random characters. */
export const SNAPSHOT_ID_PATTERN = /^snap_\d{13}[A-Za-z0-9]{12}$/;

export function snapshotKey(tenant: string, wid: string, snapshotId: string): string {
  if (!SNAPSHOT_ID_PATTERN.test(snapshotId))
    throw new WorkcellError('bad_request', 'invalid snapshot id');
  return `${snapshotsPrefix(tenant, wid)}${snapshotId}.json`;
}

/** The snapshot id in a key under snapshotsPrefix, or null. */
export function snapshotIdOfKey(tenant: string, wid: string, key: string): string | null {
  const prefix = snapshotsPrefix(tenant, wid);
  if (!key.startsWith(prefix)) return null;
  const match = /^(snap_\d{13}[A-Za-z0-9]{12})\.json$/.exec(key.slice(prefix.length));
  return match?.[1] ?? null;
}

/** Prefix of the agent's session directory (CLAUDE_CONFIG_DIR) contents. */
export function sessionsPrefix(tenant: string, wid: string): string {
  return `${workspaceRoot(tenant, wid)}sessions/`;
}

export function sessionsManifestKey(tenant: string, wid: string): string {
  return `${workspaceRoot(tenant, wid)}sessions-manifest.json`;
}

/** Prefix of a workspace's secrets, or of the tenant's when `wid` is null. */
export function secretsPrefix(tenant: string, wid: string | null): string {
  return wid === null ? `${tenantRoot(tenant)}secrets/` : `${workspaceRoot(tenant, wid)}secrets/`;
}

/** One secret record; `name` is its canonical (lower-case) name, checked by the caller. */
export function secretKey(tenant: string, wid: string | null, name: string): string {
  if (!/^[a-z][a-z0-9_]{0,63}$/.test(name))
    throw new WorkcellError('bad_request', 'invalid secret name');
  return `${secretsPrefix(tenant, wid)}${name}.json`;
}

/** The hosts a workspace narrowed its egress to (absent: the operator's list applies). */
export function workspaceEgressKey(tenant: string, wid: string): string {
  return `${workspaceRoot(tenant, wid)}egress.json`;
}

/** The workspace's agent settings (absent: the operator's defaults apply). */
export function workspaceAgentKey(tenant: string, wid: string): string {
  return `${workspaceRoot(tenant, wid)}agent.json`;
}

/** Prefix under which every conversation of the workspace lives. */
export function conversationsPrefix(tenant: string, wid: string): string {
  return `${workspaceRoot(tenant, wid)}conversations/`;
}

export function conversationRoot(tenant: string, wid: string, cid: string): string {
  return `${conversationsPrefix(tenant, wid)}${id('conversation', cid)}/`;
}

export function conversationMetaKey(tenant: string, wid: string, cid: string): string {
  return `${conversationRoot(tenant, wid, cid)}meta.json`;
}

/** Prefix of a conversation's run logs; listing it gives the runs. */
export function runsPrefix(tenant: string, wid: string, cid: string): string {
  return `${conversationRoot(tenant, wid, cid)}runs/`;
}

/** A run's recorded events, one JSON object per line. */
export function runEventsKey(tenant: string, wid: string, cid: string, rid: string): string {
  return `${runsPrefix(tenant, wid, cid)}${id('run', rid)}.ndjson`;
}

/** Maps a conversation id to its workspace, for routes that name only the conversation. */
export function conversationIndexKey(tenant: string, cid: string): string {
  return `${tenantRoot(tenant)}conversation-index/${id('conversation', cid)}.json`;
}

/** Prefix of the tenant's workspace index: listing it lists workspaces without any file key. */
export function workspaceIndexPrefix(tenant: string): string {
  return `${tenantRoot(tenant)}workspace-index/`;
}

export function workspaceIndexKey(tenant: string, wid: string): string {
  return `${workspaceIndexPrefix(tenant)}${id('workspace', wid)}.json`;
}

/** Prefix of the tenant's webhook endpoints. */
export function webhooksPrefix(tenant: string): string {
  return `${tenantRoot(tenant)}webhooks/`;
}

/** One webhook endpoint record; `webhookId` is checked by the caller (`wh_...`). */
export function webhookKey(tenant: string, webhookId: string): string {
  if (!/^wh_[A-Za-z0-9]{16}$/.test(webhookId))
    throw new WorkcellError('bad_request', 'invalid webhook id');
  return `${webhooksPrefix(tenant)}${webhookId}.json`;
}

/** Prefix of the tenant's workspaces in creation order: a key's name is its sort key. */
export function workspaceListPrefix(tenant: string): string {
  return `${tenantRoot(tenant)}workspace-list/`;
}

/** `<created ms, 13 digits>.<wid>`: sorts by creation time, then id. */
export function workspaceListSortKey(createdAtMs: number, wid: string): string {
  return `${String(Math.max(0, Math.floor(createdAtMs))).padStart(13, '0')}.${id('workspace', wid)}`;
}

export function workspaceListKey(tenant: string, createdAtMs: number, wid: string): string {
  return `${workspaceListPrefix(tenant)}${workspaceListSortKey(createdAtMs, wid)}.json`;
}

/** The sort key in a key under workspaceListPrefix, or null for other keys. */
export function sortKeyOfWorkspaceListKey(tenant: string, key: string): string | null {
  const prefix = workspaceListPrefix(tenant);
  if (!key.startsWith(prefix)) return null;
  const match = /^(\d{13}\.[A-Za-z0-9_-]{1,128})\.json$/.exec(key.slice(prefix.length));
  return match?.[1] ?? null;
}

/** Prefix of a workspace's conversations in creation order: a key's name is its sort key. */
export function conversationListPrefix(tenant: string, wid: string): string {
  return `${workspaceRoot(tenant, wid)}conversation-list/`;
}

export function conversationListKey(
  tenant: string,
  wid: string,
  createdAtMs: number,
  cid: string,
): string {
  const ms = String(Math.max(0, Math.floor(createdAtMs))).padStart(13, '0');
  return `${conversationListPrefix(tenant, wid)}${ms}.${id('conversation', cid)}.json`;
}

/** The sort key in a key under conversationListPrefix, or null for other keys. */
export function sortKeyOfConversationListKey(
  tenant: string,
  wid: string,
  key: string,
): string | null {
  const prefix = conversationListPrefix(tenant, wid);
  if (!key.startsWith(prefix)) return null;
  const match = /^(\d{13}\.[A-Za-z0-9_-]{1,128})\.json$/.exec(key.slice(prefix.length));
  return match?.[1] ?? null;
}

/** Present once the workspace's conversation list covers the conversations made before it. */
export function conversationListReadyKey(tenant: string, wid: string): string {
  return `${workspaceRoot(tenant, wid)}conversation-list.ready`;
}

/** Present once the tenant's workspace list covers the workspaces made before it existed. */
export function workspaceListReadyKey(tenant: string): string {
  return `${tenantRoot(tenant)}workspace-list.ready`;
}

/** The id in a key under conversationsPrefix (`<cid>/meta.json`), or null for other keys. */
export function conversationIdOfMetaKey(tenant: string, wid: string, key: string): string | null {
  const prefix = conversationsPrefix(tenant, wid);
  if (!key.startsWith(prefix)) return null;
  const match = /^([A-Za-z0-9_-]{1,128})\/meta\.json$/.exec(key.slice(prefix.length));
  return match?.[1] ?? null;
}

/** The id in a key under workspaceIndexPrefix (`<wid>.json`), or null. */
export function workspaceIdOfIndexKey(tenant: string, key: string): string | null {
  const prefix = workspaceIndexPrefix(tenant);
  if (!key.startsWith(prefix)) return null;
  const match = /^([A-Za-z0-9_-]{1,128})\.json$/.exec(key.slice(prefix.length));
  return match?.[1] ?? null;
}

/** The run id in a key under runsPrefix (`<rid>.ndjson`), or null. */
export function runIdOfEventsKey(
  tenant: string,
  wid: string,
  cid: string,
  key: string,
): string | null {
  const prefix = runsPrefix(tenant, wid, cid);
  if (!key.startsWith(prefix)) return null;
  const match = /^([A-Za-z0-9_-]{1,128})\.ndjson$/.exec(key.slice(prefix.length));
  return match?.[1] ?? null;
}

/** `tenants/<tenant>/managed-agents/package-cache/<env>/`: every cached install of an environment. */
export function packageCachePrefix(tenant: string, environmentId: string): string {
  return `${tenantRoot(tenant)}managed-agents/package-cache/${id('environment', environmentId)}/`;
}

/** One manager's installed tree for one package list (`hash`: 64 hex digits), as a tar.gz. */
export function packageCacheKey(
  tenant: string,
  environmentId: string,
  manager: string,
  hash: string,
): string {
  if (!/^[a-z]{1,16}$/.test(manager) || !/^[0-9a-f]{64}$/.test(hash))
    throw new WorkcellError('bad_request', 'invalid package cache key');
  return `${packageCachePrefix(tenant, environmentId)}${manager}-${hash}.tar.gz`;
}
