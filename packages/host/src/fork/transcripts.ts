import type { SessionKey, SessionStore, SessionStoreEntry } from '@anthropic-ai/claude-agent-sdk';
import { WorkcellError } from '@workcell/protocol';
import * as layout from '../storage/layout.js';
import type { ObjectStore } from '../storage/object-store.js';
import { sha256 } from '../sync/hashing.js';
import { readManifest, writeManifest, type Manifest } from '../sync/manifest.js';

/*
 * The agent's session transcripts as the workspace's sessions tree stores them (the agent's
 * CLAUDE_CONFIG_DIR, synced like the files: `sessions-manifest.json` and `sessions/<path>`),
 * and forks of them made with the Agent SDK's own `forkSession`.
 */

/**
 * The CLI's project directory for the container's working directory `/workspace`: the path
 * with every character outside `[A-Za-z0-9]` replaced by `-` (the agent's `transcriptPath`).
 */
const PROJECT_DIR = 'projects/-workspace';

/** A transcript's path in the sessions tree. */
export function transcriptPath(sessionId: string): string {
  if (!/^[0-9a-f-]{36}$/.test(sessionId))
    throw new WorkcellError('internal', `not a session id: ${sessionId.slice(0, 64)}`);
  return `${PROJECT_DIR}/${sessionId}.jsonl`;
}

/** One line of a transcript: the SDK's entry, with the fork's back link when it has one. */
export type TranscriptEntry = SessionStoreEntry & {
  forkedFrom?: { sessionId?: unknown; messageUuid?: unknown };
};

/** The transcript's entries as last synced out, or null when the workspace has none of it. */
export async function readTranscript(
  store: ObjectStore,
  tenant: string,
  workspaceId: string,
  sessionId: string,
): Promise<TranscriptEntry[] | null> {
  const key = layout.sessionsPrefix(tenant, workspaceId) + transcriptPath(sessionId);
  const buf = await store.getBuffer(key);
  if (buf === null) return null;
  const entries: TranscriptEntry[] = [];
  for (const line of buf.toString('utf8').split('\n')) {
    if (line.trim() === '') continue;
    try {
      entries.push(JSON.parse(line) as TranscriptEntry);
    } catch {
      // A line cut short by a sync of a transcript being written: the CLI skips it too.
    }
  }
  return entries;
}

/**
 * Stores transcripts in a workspace's sessions tree and names them in its sessions manifest,
 * so the next sync in puts them where the CLI looks. The manifest is read, changed and written
 * whole: the caller holds the workspace lock, or the workspace is not published yet.
 */
export async function writeTranscripts(
  store: ObjectStore,
  tenant: string,
  workspaceId: string,
  transcripts: ReadonlyMap<string, readonly TranscriptEntry[]>,
  nowMs: number,
): Promise<void> {
  if (transcripts.size === 0) return;
  const manifestKey = layout.sessionsManifestKey(tenant, workspaceId);
  const manifest: Manifest = await readManifest(store, manifestKey);
  if (manifest.version !== 1)
    throw new WorkcellError('internal', 'the sessions tree is stored by path (version 1)');
  for (const [sessionId, entries] of transcripts) {
    const path = transcriptPath(sessionId);
    const body = Buffer.from(entries.map((e) => `${JSON.stringify(e)}\n`).join(''), 'utf8');
    await store.put(layout.sessionsPrefix(tenant, workspaceId) + path, body, {
      contentType: 'application/x-ndjson',
    });
    manifest.files[path] = { size: body.length, sha256: sha256(body), mtimeMs: Math.trunc(nowMs) };
  }
  await writeManifest(store, manifestKey, manifest);
}

/** A `SessionStore` over one transcript held in memory: the SDK reads it and appends the fork. */
class OneTranscript implements SessionStore {
  forked: { sessionId: string; entries: SessionStoreEntry[] } | null = null;

  constructor(
    private readonly sessionId: string,
    private readonly entries: readonly SessionStoreEntry[],
  ) {}

  load(key: SessionKey): Promise<SessionStoreEntry[] | null> {
    if (key.sessionId !== this.sessionId || key.subpath !== undefined) return Promise.resolve(null);
    return Promise.resolve([...this.entries]);
  }

  append(key: SessionKey, entries: SessionStoreEntry[]): Promise<void> {
    if (key.subpath !== undefined) return Promise.resolve();
    const forked = this.forked ?? { sessionId: key.sessionId, entries: [] };
    forked.entries.push(...entries);
    this.forked = forked;
    return Promise.resolve();
  }
}

/**
 * A new session holding `entries` up to and including the entry `upToUuid` (all of them when
 * null), made by the SDK's `forkSession`: fresh uuids, the parent chain kept, each entry naming
 * the one it was copied from (`forkedFrom`).
 */
export async function forkTranscript(
  sessionId: string,
  entries: readonly TranscriptEntry[],
  upToUuid: string | null,
): Promise<{ sessionId: string; entries: TranscriptEntry[] }> {
  // Loaded on first use: the SDK module is large and most hosts never fork.
  const { forkSession } = await import('@anthropic-ai/claude-agent-sdk');
  const store = new OneTranscript(sessionId, entries);
  const result = await forkSession(sessionId, {
    sessionStore: store,
    dir: '/workspace',
    ...(upToUuid !== null ? { upToMessageId: upToUuid } : {}),
  });
  if (store.forked === null || store.forked.sessionId !== result.sessionId)
    throw new WorkcellError('internal', 'the SDK forked no transcript');
  return { sessionId: result.sessionId, entries: store.forked.entries };
}

/** Each forked entry's uuid by the uuid of the source entry it was copied from. */
export function forkedUuids(entries: readonly TranscriptEntry[]): Map<string, string> {
  const map = new Map<string, string>();
  for (const e of entries) {
    const from = e.forkedFrom?.messageUuid;
    if (typeof from === 'string' && typeof e.uuid === 'string') map.set(from, e.uuid);
  }
  return map;
}
