import { randomUUID } from 'node:crypto';
import { Cluster, Redis } from 'ioredis';
import { pino } from 'pino';
import { describe, expect, inject, it } from 'vitest';
import { RedisControlBus } from '../../packages/host/src/control/control-bus.js';
import type { ControlMessage } from '../../packages/host/src/control/messages.js';
import { parseRedisUrl, stateKeys } from '../../packages/host/src/state/index.js';
import { waitFor } from '../orchestrator/support.js';

const logger = pino({ level: 'silent' });

describe.each([
  ['redis', () => inject('redisUrl')],
  ['redis cluster', () => inject('redisClusterUrl')],
])('control bus between hosts (%s)', (_name, url) => {
  it('delivers what one host publishes to every host, stamped with the sender, and ignores malformed messages', async () => {
    const keyPrefix = `workcell-test:${randomUUID()}`;
    const a = new RedisControlBus({ url: url(), hostId: 'host-a', keyPrefix, logger });
    const b = new RedisControlBus({ url: url(), hostId: 'host-b', keyPrefix, logger });
    const heardA: ControlMessage[] = [];
    const heardB: ControlMessage[] = [];
    a.subscribe((m) => void heardA.push(m));
    b.subscribe((m) => void heardB.push(m));
    const target = parseRedisUrl(url());
    const raw = target.kind === 'cluster' ? new Cluster(target.nodes) : new Redis(url());
    try {
      await Promise.all([a.ready(), b.ready()]);
      await raw.publish(stateKeys(keyPrefix).controlChannel, '{"type": "format-disk"}');
      await a.publish({ type: 'interrupt', runId: 'run_1' });
      await waitFor(
        'both hosts to hear it',
        () => heardA.length === 1 && heardB.length === 1,
        5_000,
        10,
      );
      expect(heardB).toEqual([{ type: 'interrupt', runId: 'run_1', from: 'host-a' }]);
      expect(heardA).toEqual(heardB);
    } finally {
      raw.disconnect();
      await a.close();
      await b.close();
    }
  });
});
