import { WorkcellError } from '@workcell/protocol';
import { CONTAINER_STATES, type ContainerRecord, type ContainerState } from './state-store.js';

/**
 * How a ContainerRecord lives in a Redis hash: every field a string, numbers in decimal, and a
 * null field absent, so a Lua patch sets a field with HSET and nulls it with HDEL.
 */
export type ContainerPatch = Partial<Omit<ContainerRecord, 'id'>>;

export function encodeRecord(record: ContainerRecord): Record<string, string> {
  const { set } = encodePatch(record);
  return Object.fromEntries(set);
}

/** Splits a patch into fields to set (as strings) and fields to delete (set to null). */
export function encodePatch(patch: ContainerPatch & { id?: string }): {
  set: [string, string][];
  del: string[];
} {
  const set: [string, string][] = [];
  const del: string[] = [];
  for (const [field, value] of Object.entries(patch) as [string, unknown][]) {
    if (value === undefined) continue;
    if (value === null) del.push(field);
    else set.push([field, String(value)]);
  }
  return { set, del };
}

function isState(value: string | undefined): value is ContainerState {
  return (CONTAINER_STATES as readonly string[]).includes(value ?? '');
}

function requiredString(hash: Record<string, string>, field: string): string {
  const value = hash[field];
  if (value === undefined) throw corrupt(hash, `missing ${field}`);
  return value;
}

function requiredNumber(hash: Record<string, string>, field: string): number {
  const value = Number(requiredString(hash, field));
  if (!Number.isFinite(value)) throw corrupt(hash, `${field} is not a number`);
  return value;
}

function corrupt(hash: Record<string, string>, why: string): WorkcellError {
  return new WorkcellError(
    'internal',
    `container record ${hash.id ?? '?'} in Redis is corrupt: ${why}`,
  );
}

/** Reads a hash back into a record; an empty hash (no such key) is null. */
export function decodeRecord(hash: Record<string, string>): ContainerRecord | null {
  if (Object.keys(hash).length === 0) return null;
  const state = hash.state;
  if (!isState(state)) throw corrupt(hash, `unknown state ${String(state)}`);
  return {
    id: requiredString(hash, 'id'),
    slotId: requiredString(hash, 'slotId'),
    hostId: requiredString(hash, 'hostId'),
    image: requiredString(hash, 'image'),
    state,
    workspaceId: hash.workspaceId ?? null,
    tenant: hash.tenant ?? null,
    createdAt: requiredNumber(hash, 'createdAt'),
    stateChangedAt: requiredNumber(hash, 'stateChangedAt'),
    lastRunEndedAt:
      hash.lastRunEndedAt === undefined ? null : requiredNumber(hash, 'lastRunEndedAt'),
    runId: hash.runId ?? null,
  };
}

/** Decodes the flat `[field, value, ...]` array HGETALL gives a Lua script. */
export function decodeFlatRecord(flat: readonly string[]): ContainerRecord | null {
  const hash: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) hash[flat[i] as string] = flat[i + 1] as string;
  return decodeRecord(hash);
}

/** Oldest first, then by id: the order both stores list containers in. */
export function byCreation(a: ContainerRecord, b: ContainerRecord): number {
  return a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}
