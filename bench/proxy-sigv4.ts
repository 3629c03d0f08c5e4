/**
 * SigV4 signing time of the proxy's Bedrock signer (@smithy/signature-v4 on node:crypto) over the
 * raw node:crypto work a SigV4 signature needs (hash the body, hash the canonical request, derive
 * the signing key with four HMACs, HMAC the string to sign), for 1 KB and 100 KB bodies, both
 * measured in this run. Goal: ratio <= 2. Run: npx tsx bench/proxy-sigv4.ts
 */
import { createHash, createHmac } from 'node:crypto';
import { createBedrockSigner } from '../packages/proxy/src/index.js';

const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 20_000);
const credentials = {
  accessKeyId: 'AKIABENCHMARK0000000',
  secretAccessKey: 'bench-secret-access-key-0000000000000000',
  sessionToken: 'bench-session-token',
};
const region = 'us-east-1';
const host = 'bedrock-runtime.us-east-1.amazonaws.com';
const path = '/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/invoke-with-response-stream';

function headersFor(body: Buffer): Record<string, string> {
  return {
    host,
    'content-type': 'application/json',
    accept: 'application/vnd.amazon.eventstream',
    'content-length': String(body.length),
    'x-stainless-lang': 'js',
    'user-agent': 'claude-cli/1.0',
  };
}

/** The same signature computed with node:crypto and string building only. */
function rawSign(body: Buffer, headers: Record<string, string>, now: Date): string {
  const longDate = now.toISOString().replace(/[-:]|\.\d{3}/g, '');
  const shortDate = longDate.slice(0, 8);
  const all: Record<string, string> = {
    ...headers,
    'x-amz-date': longDate,
    'x-amz-security-token': credentials.sessionToken,
  };
  delete all['user-agent'];
  const names = Object.keys(all).sort();
  const canonicalPath = path.replace(/%/g, '%25');
  const payloadHash = createHash('sha256').update(body).digest('hex');
  const canonical = `POST\n${canonicalPath}\n\n${names.map((n) => `${n}:${all[n]}`).join('\n')}\n\n${names.join(';')}\n${payloadHash}`;
  const scope = `${shortDate}/${region}/bedrock/aws4_request`;
  const stringToSign = `AWS4-HMAC-SHA256\n${longDate}\n${scope}\n${createHash('sha256').update(canonical).digest('hex')}`;
  let key: Buffer = createHmac('sha256', `AWS4${credentials.secretAccessKey}`)
    .update(shortDate)
    .digest();
  for (const part of [region, 'bedrock', 'aws4_request'])
    key = createHmac('sha256', key).update(part).digest();
  return createHmac('sha256', key).update(stringToSign).digest('hex');
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

const round = (n: number, digits = 2): number => Number(n.toFixed(digits));

async function measure(size: number): Promise<{ signerUs: number; rawUs: number; ratio: number }> {
  const signer = createBedrockSigner(region, async () => credentials);
  const body = Buffer.alloc(size, 'a');
  const headers = headersFor(body);
  const now = new Date();
  const request = {
    method: 'POST',
    protocol: 'https:',
    hostname: host,
    path,
    query: {},
    headers,
    body,
  };
  // Both produce the same signature: the baseline is the same work, not a shortcut.
  const signed = await signer.sign(request, { signingDate: now });
  const expected = /Signature=([0-9a-f]+)/.exec(signed.headers.authorization ?? '')?.[1];
  if (expected !== rawSign(body, headers, now))
    throw new Error('the raw baseline and the signer disagree');

  const signerRounds: number[] = [];
  const rawRounds: number[] = [];
  const perRound = Math.max(100, Math.floor(ITERATIONS / 10 / (size > 10_000 ? 4 : 1)));
  for (let round = 0; round < 10; round += 1) {
    let started = performance.now();
    for (let i = 0; i < perRound; i += 1) await signer.sign(request, { signingDate: now });
    signerRounds.push(((performance.now() - started) * 1000) / perRound);
    started = performance.now();
    for (let i = 0; i < perRound; i += 1) rawSign(body, headers, now);
    rawRounds.push(((performance.now() - started) * 1000) / perRound);
  }
  const signerUs = median(signerRounds);
  const rawUs = median(rawRounds);
  return { signerUs: round(signerUs), rawUs: round(rawUs), ratio: round(signerUs / rawUs) };
}

const kb1 = await measure(1024);
const kb100 = await measure(100 * 1024);
const result = { bench: 'proxy-sigv4', goal: 'ratio <= 2', body1KB: kb1, body100KB: kb100 };
console.log(JSON.stringify(result));
console.log(
  `SigV4 signing: 1 KB ${kb1.signerUs} us vs raw node:crypto ${kb1.rawUs} us = ${kb1.ratio}x; ` +
    `100 KB ${kb100.signerUs} us vs ${kb100.rawUs} us = ${kb100.ratio}x (goal <= 2)`,
);
