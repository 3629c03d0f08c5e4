/**
 * Every Redis key the state store uses, built here and nowhere else. Lua scripts that find a
 * key from data they read (claimWarm reads a container id out of the pool) receive the key's
 * prefix from here as an argument and append the id, so the layout still lives in this file.
 */
export interface StateKeys {
  readonly prefix: string;
  /** Hash: one container record. */
  container(id: string): string;
  /** What `container(id)` starts with; scripts append an id. */
  readonly containerPrefix: string;
  /** Set: ids of every container record. */
  readonly containers: string;
  /** Sorted set: ids of warm containers of `image`, scored by when they joined. */
  warm(image: string): string;
  /** What `warm(image)` starts with; scripts append an image. */
  readonly warmPrefix: string;
  /** String: the id of the container assigned to a workspace. */
  assignment(workspaceId: string): string;
  /** What `assignment(workspaceId)` starts with; scripts append a workspace id and `assignmentSuffix`. */
  readonly assignmentPrefix: string;
  readonly assignmentSuffix: string;
  /** String with a TTL: the holder of a lease. */
  lease(name: string): string;
  /** Stream: the buffered events of a run, entry id `<seq>-0`. */
  runEvents(runId: string): string;
  /** Counter with a TTL: one rate-limit window. */
  hit(key: string): string;
}

export const DEFAULT_KEY_PREFIX = 'workcell';

export function stateKeys(prefix: string = DEFAULT_KEY_PREFIX): StateKeys {
  const containerPrefix = `${prefix}:container:`;
  const warmPrefix = `${prefix}:warm:`;
  const assignmentPrefix = `${prefix}:workspace:`;
  const assignmentSuffix = ':container';
  return {
    prefix,
    container: (id) => `${containerPrefix}${id}`,
    containerPrefix,
    containers: `${prefix}:containers`,
    warm: (image) => `${warmPrefix}${image}`,
    warmPrefix,
    assignment: (workspaceId) => `${assignmentPrefix}${workspaceId}${assignmentSuffix}`,
    assignmentPrefix,
    assignmentSuffix,
    lease: (name) => `${prefix}:lease:${name}`,
    runEvents: (runId) => `${prefix}:run:${runId}:events`,
    hit: (key) => `${prefix}:hit:${key}`,
  };
}
