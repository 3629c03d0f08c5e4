/**
 * Every Redis key the state store uses, built here and nowhere else.
 *
 * The layout works on Redis Cluster: each key carries a hash tag (`{...}`), so the keys one
 * step touches together hash to one slot, and the keys of different workspaces, pools,
 * containers and runs spread over the cluster's masters. Every Lua script receives all the
 * keys it touches in KEYS and never builds a key from data it reads.
 *
 * | key                                  | tag                 | what                          |
 * | ------------------------------------ | ------------------- | ----------------------------- |
 * | `<p>:container:{c:<id>}`             | one container       | the record (hash)             |
 * | `<p>:{containers}`                   | the index           | every record id (set)         |
 * | `<p>:{pool:<image>}:warm`            | one pool            | warm ids by join time (zset)  |
 * | `<p>:{ws:<wid>}:container`           | one workspace       | the assigned container id     |
 * | `<p>:{ws:<wid>}:lease:<name>`        | one workspace       | a workspace's lease           |
 * | `<p>:lease:{<name>}`                 | one lease           | any other lease               |
 * | `<p>:run:{<runId>}:events`           | one run             | the run's event buffer        |
 * | `<p>:{runs}:attached`                | the run index       | run id -> attachment JSON (hash) |
 * | `<p>:hit:{<key>}`                    | one window          | a rate-limit window           |
 * | `<p>:ticket:{<digest>}`              | one ticket          | a browser ticket's grant      |
 * | `<p>:{outbox}:due`                   | the outbox          | delivery ids by due time (zset) |
 * | `<p>:{outbox}:entries`               | the outbox          | delivery id -> entry JSON (hash) |
 * | `<p>:{outbox}:claims`                | the outbox          | delivery id -> claim (hash)   |
 * | `<p>:{conv:<cid>}:approvals`         | one conversation    | approvals and tool calls (hash) |
 * | `<p>:control` (channel)              |                     | cross-host control messages   |
 */
export interface StateKeys {
  readonly prefix: string;
  /** Hash: one container record. */
  container(id: string): string;
  /** Set: ids of every container record. */
  readonly containers: string;
  /** Sorted set: ids of warm containers of `pool`, scored by when they joined. */
  warm(pool: string): string;
  /** String: the id of the container assigned to a workspace. */
  assignment(workspaceId: string): string;
  /**
   * String with a TTL: the holder of a lease. A lease named `<kind>:<workspaceId>` for a
   * workspace (`run:<wid>`) shares the workspace's slot.
   */
  lease(name: string): string;
  /** Stream: the buffered events of a run, entry id `<seq>-0`. */
  runEvents(runId: string): string;
  /** Hash: run id -> the JSON `RunAttachment` of every run in progress. */
  readonly attachedRuns: string;
  /** Counter with a TTL: one rate-limit window. */
  hit(key: string): string;
  /** String with a TTL: the grant of one browser ticket, named by the ticket's digest. */
  ticket(digest: string): string;
  /** Hash: a conversation's approvals and client tool calls (`r:<id>` record, `s:<id>` settlement). */
  approvals(conversationId: string): string;
  /** Pub/sub channel of cross-host control messages. */
  readonly controlChannel: string;
  /** The webhook outbox; its three keys share one slot so each step is one script. */
  readonly outbox: { readonly due: string; readonly entries: string; readonly claims: string };
}

export const DEFAULT_KEY_PREFIX = 'workcell';

/** Lease kinds whose name ends in a workspace id; their key shares the workspace's slot. */
const WORKSPACE_LEASES = /^(run):(.+)$/;

/** `{` and `}` in a tag's content would end the tag early; they are percent-escaped. */
function tag(content: string): string {
  return `{${content.replace(/%/g, '%25').replace(/\{/g, '%7B').replace(/\}/g, '%7D')}}`;
}

export function stateKeys(prefix: string = DEFAULT_KEY_PREFIX): StateKeys {
  if (/[{}]/.test(prefix)) {
    throw new Error(`Redis key prefix ${JSON.stringify(prefix)} must not contain { or }`);
  }
  const workspace = (workspaceId: string): string => `${prefix}:${tag(`ws:${workspaceId}`)}`;
  return {
    prefix,
    container: (id) => `${prefix}:container:${tag(`c:${id}`)}`,
    containers: `${prefix}:${tag('containers')}`,
    warm: (pool) => `${prefix}:${tag(`pool:${pool}`)}:warm`,
    assignment: (workspaceId) => `${workspace(workspaceId)}:container`,
    lease: (name) => {
      const match = WORKSPACE_LEASES.exec(name);
      if (match) return `${workspace(match[2] as string)}:lease:${match[1] as string}`;
      return `${prefix}:lease:${tag(name)}`;
    },
    runEvents: (runId) => `${prefix}:run:${tag(runId)}:events`,
    attachedRuns: `${prefix}:${tag('runs')}:attached`,
    hit: (key) => `${prefix}:hit:${tag(key)}`,
    ticket: (digest) => `${prefix}:ticket:${tag(digest)}`,
    approvals: (conversationId) => `${prefix}:${tag(`conv:${conversationId}`)}:approvals`,
    controlChannel: `${prefix}:control`,
    outbox: {
      due: `${prefix}:${tag('outbox')}:due`,
      entries: `${prefix}:${tag('outbox')}:entries`,
      claims: `${prefix}:${tag('outbox')}:claims`,
    },
  };
}
