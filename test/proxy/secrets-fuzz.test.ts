import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SecretBinding } from '@workcell/proxy';
import { putSecretBody } from '../../packages/host/src/secrets/input.js';
import { fuzzSeed, pool, seededRandom, type Random } from '../support/fuzz.js';
import {
  BOUND_HOST,
  PLACEHOLDER,
  boundSecret,
  startHostileProxy,
  type HostileProxy,
} from '../support/hostile-proxy.js';
import {
  describeOutcome,
  errorCode,
  watchUncaught,
  type ReceivedRequest,
  type UncaughtWatch,
} from '../support/hostile-upstream.js';

/**
 * Secret values and formats drawn from every Unicode class, from a printed seed: the PUT body's
 * validation accepts exactly the ones that can travel in an HTTP header (printable ASCII, tab
 * inside, no whitespace at either end), each accepted one reaches the upstream byte for byte
 * through a terminated tunnel, and any value handed to the proxy directly (as data stored before
 * validation existed would be) never throws: it is sent, or refused 502 `secret_unusable`.
 * `WORKCELL_FUZZ_SEED=<n>` repeats a run.
 */

const SEED = fuzzSeed();
const DEADLINE_MS = 2_000;
const PER_CLASS = 12;

/** Characters of one class, as a generator. */
const CLASS_CHARS: Record<string, (r: Random) => string> = {
  ascii: (r) => String.fromCharCode(r.int(0x21, 0x7e)),
  c0: (r) => String.fromCharCode(r.pick([1, 2, 7, 8, 11, 12, 14, 27, 31])),
  nul: () => '\x00',
  crlf: (r) => r.pick(['\r\n', '\r', '\n']),
  'tab-inside': () => '\t',
  del: () => '\x7f',
  latin1: (r) => String.fromCharCode(r.int(0xa0, 0xff)),
  bmp: (r) => String.fromCharCode(r.pick([0x20ac, 0x4e2d, 0x0416, 0x2603, 0xfffd, 0x3042])),
  astral: (r) => String.fromCodePoint(r.pick([0x1f511, 0x1f600, 0x10348, 0x20000])),
  combining: (r) => `e${String.fromCharCode(r.int(0x300, 0x36f))}`,
  rtl: (r) => r.pick(['\u202e', '\u05d0', '\u0627', '\u200f']),
  'space-ends': () => ' ',
};

/** Printable ASCII without the braces and colon a format gives meaning to. */
function plain(r: Random, length: number): string {
  let out = '';
  while (out.length < length) {
    const c = String.fromCharCode(r.int(0x21, 0x7e));
    if (!'{}:'.includes(c)) out += c;
  }
  return out;
}

/** A string of `cls`: printable ASCII with characters of the class inside (or at the ends). */
function sample(r: Random, cls: string): string {
  const base = plain(r, r.int(4, 24));
  if (cls === 'ascii') return base;
  if (cls === 'space-ends') return r.pick([` ${base}`, `${base} `, `\t${base}`, `${base}\t`]);
  const gen = CLASS_CHARS[cls] ?? CLASS_CHARS.ascii;
  let out = base;
  for (let i = r.int(1, 3); i > 0; i -= 1) {
    const at = r.int(1, out.length - 1);
    out = `${out.slice(0, at)}${gen?.(r) ?? ''}${out.slice(at)}`;
  }
  return out;
}

type Expectation = 'accept' | 'refuse' | 'either';

/**
 * What the PUT validation must answer: printable ASCII, no whitespace at either end, not empty.
 * A tab inside is header-safe; whether the API takes it is left open (`either`).
 */
function apiExpectation(text: string): Expectation {
  if (text === '' || /^[\t ]|[\t ]$/.test(text)) return 'refuse';
  if (/[^\t\x20-\x7e]/.test(text)) return 'refuse';
  return text.includes('\t') ? 'either' : 'accept';
}

/** Characters no header can carry as they are: above U+00FF, C0 controls but tab, DEL. */
const UNSENDABLE_IN_HEADER = /[^\t\x20-\x7e\x80-\xff]/;
const ABOVE_LATIN1 = /[^\x00-\xff]/;

/** The Authorization line exactly as the upstream received it (one space after the colon). */
function rawAuthorization(req: ReceivedRequest | undefined): string | undefined {
  const line = req?.head.split('\r\n').find((l) => /^authorization:/i.test(l));
  return line === undefined ? undefined : line.slice(line.indexOf(':') + 1).replace(/^ /, '');
}

const basic = (user: string, value: string): string =>
  Buffer.from(`${user}:${value}`, 'latin1').toString('base64');

/** How a binding is used: the placeholder alone, inside Basic, or through a format. */
type Mode = 'raw' | 'basic' | 'format';

interface Tally {
  generated: number;
  apiAccepted: number;
  apiRefused: number;
  substitutedExactly: number;
  proxyRefused: number;
  proxySent: number;
}

const tallies = new Map<string, Tally>();
function tally(key: string): Tally {
  let t = tallies.get(key);
  if (!t) {
    t = {
      generated: 0,
      apiAccepted: 0,
      apiRefused: 0,
      substitutedExactly: 0,
      proxyRefused: 0,
      proxySent: 0,
    };
    tallies.set(key, t);
  }
  return t;
}

let fx: HostileProxy;
let watch: UncaughtWatch;
let rnd: Random;
/** Requests sent so far (each carries its number, to find what the upstream received). */
let sent = 0;
/** Past this many failures a loop stops: a proxy that hangs on each case would take minutes. */
const MAX_FAILURES = 6;

beforeAll(async () => {
  rnd = seededRandom(SEED);
  console.log(`secrets fuzz: seed ${SEED} (repeat with WORKCELL_FUZZ_SEED=${SEED})`);
  watch = watchUncaught();
  fx = await startHostileProxy();
});

afterAll(async () => {
  watch.stop();
  await fx.close();
  const lines = [...tallies].map(
    ([key, t]) =>
      `  ${key.padEnd(20)} generated ${String(t.generated).padStart(3)}  api accepted ${String(t.apiAccepted).padStart(3)}  api refused ${String(t.apiRefused).padStart(3)}  substituted exactly ${String(t.substitutedExactly).padStart(3)}  proxy sent ${String(t.proxySent).padStart(3)}  proxy refused ${String(t.proxyRefused).padStart(3)}`,
  );
  console.log(`secrets fuzz (seed ${SEED}):\n${lines.join('\n')}`);
});

interface Case {
  readonly cls: string;
  readonly mode: Mode;
  readonly value: string;
  readonly format: string | null;
}

function cases(): Case[] {
  const out: Case[] = [];
  for (const cls of Object.keys(CLASS_CHARS)) {
    for (let i = 0; i < PER_CLASS; i += 1) {
      out.push({ cls, mode: i % 3 === 1 ? 'basic' : 'raw', value: sample(rnd, cls), format: null });
      // A format around `{value}` or `{basic:<user>}` whose text carries the class.
      const around = sample(rnd, cls);
      const cut = rnd.int(0, around.length);
      const slot = rnd.chance(0.3) ? `{basic:${plain(rnd, 3)}}` : '{value}';
      out.push({
        cls,
        mode: 'format',
        value: plain(rnd, 12),
        format: `${around.slice(0, cut)}${slot}${around.slice(cut)}`,
      });
    }
  }
  return out;
}

function expectedHeader(c: Case): string {
  if (c.mode === 'raw') return `token ${c.value}`;
  if (c.mode === 'basic') return `Basic ${basic('u', c.value)}`;
  return (c.format ?? '').replace(
    /\{value\}|\{basic:([^{}]*)\}/g,
    (_m, user: string | undefined) => (user === undefined ? c.value : basic(user, c.value)),
  );
}

function binding(c: Case): SecretBinding {
  return boundSecret({
    value: () => c.value,
    ...(c.mode === 'format' ? { header: 'authorization', format: c.format } : {}),
  });
}

function containerHeader(c: Case): string {
  if (c.mode === 'raw') return `token ${PLACEHOLDER}`;
  if (c.mode === 'basic') return `Basic ${basic('u', PLACEHOLDER)}`;
  return PLACEHOLDER;
}

/** Sends one case through a terminated tunnel, its binding in place for that request alone. */
async function sendCase(
  c: Case,
): Promise<{ outcome: Awaited<ReturnType<HostileProxy['send']>>; received: string | undefined }> {
  sent += 1;
  const marker = `case-${sent}`;
  fx.secrets.current = [binding(c)];
  const outcome = await fx.send('tls', DEADLINE_MS, [
    'Authorization',
    containerHeader(c),
    'X-Case',
    marker,
  ]);
  const req = fx.secure.requests.find((r) => r.header('x-case') === marker);
  return { outcome, received: rawAuthorization(req) };
}

describe('secret values and formats from every Unicode class', () => {
  it('the PUT validation accepts exactly the header-safe ones, and each accepted one arrives exactly', async () => {
    const all = cases();
    const failures: string[] = [];
    const substitution: string[] = [];
    const accepted: Case[] = [];
    for (const c of all) {
      const text = c.mode === 'format' ? (c.format ?? '') : c.value;
      const body =
        c.mode === 'format'
          ? { value: c.value, hosts: [BOUND_HOST], header: 'Authorization', format: c.format }
          : { value: c.value, hosts: [BOUND_HOST] };
      const ok = putSecretBody.safeParse(body).success;
      const t = tally(`${c.cls}/${c.mode === 'format' ? 'format' : 'value'}`);
      t.generated += 1;
      if (ok) t.apiAccepted += 1;
      else t.apiRefused += 1;
      const want = apiExpectation(text);
      if ((want === 'accept' && !ok) || (want === 'refuse' && ok))
        failures.push(
          `${c.cls} ${c.mode} ${JSON.stringify(text)}: expected ${want}, API ${ok ? 'accepted' : 'refused'}`,
        );
      if (ok) accepted.push(c);
    }
    // Sequential: each request reads the one binding in place when it is sent.
    await pool(accepted, 1, async (c) => {
      if (substitution.length >= MAX_FAILURES) return;
      const { outcome, received } = await sendCase(c);
      const expected = expectedHeader(c);
      if (outcome.kind === 'response' && outcome.status === 200 && received === expected) {
        tally(`${c.cls}/${c.mode === 'format' ? 'format' : 'value'}`).substitutedExactly += 1;
        return;
      }
      substitution.push(
        `${c.cls} ${c.mode} ${JSON.stringify(c.format ?? c.value)}: upstream got ${JSON.stringify(received)}, want ${JSON.stringify(expected)}; container got ${describeOutcome(outcome)}`,
      );
    });
    failures.push(...substitution);
    if (failures.length > 0)
      console.log(`secrets fuzz failures (seed ${SEED}):\n  ${failures.join('\n  ')}`);
    expect(watch.errors, `seed ${SEED}: exceptions nobody caught`).toEqual([]);
    expect(failures.slice(0, 25), `seed ${SEED}: ${failures.length} failures`).toEqual([]);
  });

  it('any value given to the proxy directly never throws: sent, or 502 secret_unusable', async () => {
    const all = cases();
    const failures: string[] = [];
    const errorsBefore = watch.errors.length;
    await pool(all, 1, async (c) => {
      if (failures.length >= MAX_FAILURES) return;
      const { outcome, received } = await sendCase(c);
      const t = tally(`direct ${c.mode === 'format' ? 'format' : 'value'}`);
      t.generated += 1;
      const inHeader = c.mode === 'format' ? (c.format ?? '') : c.mode === 'raw' ? c.value : '';
      const mustRefuse =
        UNSENDABLE_IN_HEADER.test(inHeader) ||
        ABOVE_LATIN1.test(c.value) ||
        ABOVE_LATIN1.test(c.format ?? '');
      const what = `${c.cls} ${c.mode} ${JSON.stringify(c.format ?? c.value)}`;
      if (outcome.kind !== 'response') {
        failures.push(`${what}: ${describeOutcome(outcome)}`);
        return;
      }
      if (outcome.status === 502 && errorCode(outcome) === 'secret_unusable') {
        t.proxyRefused += 1;
        if (received !== undefined)
          failures.push(`${what}: refused, yet the upstream got a request`);
        return;
      }
      if (outcome.status === 200 && !mustRefuse) {
        t.proxySent += 1;
        return;
      }
      failures.push(
        `${what}: ${mustRefuse ? 'must answer 502 secret_unusable' : 'unexpected'}, got ${describeOutcome(outcome)}`,
      );
    });
    if (failures.length > 0)
      console.log(`direct secrets failures (seed ${SEED}):\n  ${failures.join('\n  ')}`);
    expect(watch.errors.slice(errorsBefore), `seed ${SEED}: exceptions nobody caught`).toEqual([]);
    expect(failures.slice(0, 25), `seed ${SEED}: ${failures.length} failures`).toEqual([]);
  });
});
