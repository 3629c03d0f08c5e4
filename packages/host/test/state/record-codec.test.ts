import { describe, expect, it } from 'vitest';
import { WorkcellError } from '@workcell/protocol';
import {
  decodeFlatRecord,
  decodeRecord,
  encodePatch,
  encodeRecord,
} from '../../src/state/record-codec.js';
import type { ContainerRecord } from '../../src/state/state-store.js';

const full: ContainerRecord = {
  id: 'c1',
  slotId: 's1',
  hostId: 'h1',
  image: 'workcell/workspace:1',
  state: 'running',
  workspaceId: 'w1',
  tenant: 't1',
  createdAt: 1_700_000_000_123,
  stateChangedAt: 1_700_000_000_456,
  lastRunEndedAt: 1_700_000_000_000,
  runId: 'r1',
};

describe('container record in a Redis hash', () => {
  it('reads back exactly what was written, with and without nulls', () => {
    expect(decodeRecord(encodeRecord(full))).toEqual(full);
    const sparse: ContainerRecord = {
      ...full,
      state: 'warm',
      workspaceId: null,
      tenant: null,
      lastRunEndedAt: null,
      runId: null,
    };
    const hash = encodeRecord(sparse);
    expect(Object.keys(hash)).not.toContain('workspaceId');
    expect(decodeRecord(hash)).toEqual(sparse);
    expect(decodeFlatRecord(Object.entries(hash).flat())).toEqual(sparse);
  });

  it('reads a missing hash as no record', () => {
    expect(decodeRecord({})).toBeNull();
    expect(decodeFlatRecord([])).toBeNull();
  });

  it('refuses a hash with an unknown state or a broken number', () => {
    expect(() => decodeRecord({ ...encodeRecord(full), state: 'sleeping' })).toThrow(WorkcellError);
    expect(() => decodeRecord({ ...encodeRecord(full), createdAt: 'soon' })).toThrow(/createdAt/);
  });

  it('turns a patch into fields to set and fields to delete, skipping undefined', () => {
    expect(
      encodePatch({ state: 'idle', runId: null, lastRunEndedAt: 5, tenant: undefined }),
    ).toEqual({
      set: [
        ['state', 'idle'],
        ['lastRunEndedAt', '5'],
      ],
      del: ['runId'],
    });
  });
});
