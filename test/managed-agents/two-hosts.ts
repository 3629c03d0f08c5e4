import type Anthropic from '@anthropic-ai/sdk';
import { inject } from 'vitest';
import { startScaleHosts, type ScaleHost, type ScaleHosts } from '../scale/hosts.js';
import { sdkFor } from './support.js';

/** Two host processes on the suite's Redis and S3 store, and the official SDK on each. */
export interface TwoHosts {
  set: ScaleHosts;
  a: ScaleHost;
  b: ScaleHost;
  onA: Anthropic;
  onB: Anthropic;
}

export async function startTwoHosts(): Promise<TwoHosts> {
  const set = await startScaleHosts({
    names: ['a', 'b'],
    redisUrl: inject('redisUrl'),
    s3Endpoint: inject('s3Endpoint'),
    s3Bucket: inject('s3Bucket'),
  });
  const [a, b] = set.hosts as [ScaleHost, ScaleHost];
  return { set, a, b, onA: sdkFor(a, set.token), onB: sdkFor(b, set.token) };
}

/** The tail (`chars` each) of what every host logged, for failure messages. */
export function hostLogs(set: ScaleHosts, chars: number): string {
  return set.hosts.map((h) => `--- ${h.name}\n${h.process.stderr().slice(-chars)}`).join('\n');
}
