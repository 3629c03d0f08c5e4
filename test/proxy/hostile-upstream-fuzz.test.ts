import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fuzzSeed, pool, seededRandom, type Random } from '../support/fuzz.js';
import { RELAY_PATHS, startHostileProxy, type HostileProxy } from '../support/hostile-proxy.js';
import {
  bytes,
  describeOutcome,
  okAnswer,
  watchUncaught,
  type Outcome,
  type Script,
  type Step,
  type UncaughtWatch,
} from '../support/hostile-upstream.js';

/**
 * Hostile upstream answers, generated from a printed seed, against every relay path of the real
 * proxy (absolute-form HTTP, the Anthropic route, the Bedrock route, a terminated TLS tunnel):
 * malformed status lines and reason phrases over every byte class, header names and values with
 * controls, high bytes and huge sizes, broken framing, resets and FINs at every phase, and
 * bounded slow trickles. Each container request must end within its bound with a well-formed
 * answer or a closed connection, nothing may throw, and a sane request after each batch works.
 * `WORKCELL_FUZZ_SEED=<n>` repeats a run.
 */

const SEED = fuzzSeed();
const BASE_DEADLINE_MS = 3_000;
const CONCURRENCY = 6;

/** Byte classes every generated text draws from. */
const CLASSES: Record<string, () => number> = {};
let rnd: Random;

function initClasses(r: Random): void {
  CLASSES.c0 = () => r.pick([...Array(32).keys()].filter((b) => b !== 9 && b !== 10 && b !== 13));
  CLASSES.tab = () => 9;
  CLASSES.cr = () => 13;
  CLASSES.lf = () => 10;
  CLASSES.space = () => 32;
  CLASSES.printable = () => r.int(0x21, 0x7e);
  CLASSES.del = () => 0x7f;
  CLASSES.high = () => r.int(0x80, 0xff);
  CLASSES.nul = () => 0;
}

/** `length` bytes, mostly printable, each other class showing up with some weight. */
function text(length: number, classes?: readonly string[]): string {
  const names = classes ?? Object.keys(CLASSES);
  let out = '';
  for (let i = 0; i < length; i += 1) {
    const cls = rnd.chance(0.6) ? 'printable' : rnd.pick(names);
    out += String.fromCharCode((CLASSES[cls] ?? CLASSES.printable ?? (() => 65))());
  }
  return out;
}

const end: Step = { end: true };
const reset: Step = { reset: true };
const w = (s: string): Step => ({ write: bytes(s) });
const OK_TAIL = '\r\nContent-Length: 2\r\n\r\nok';

interface FuzzCase {
  readonly id: string;
  readonly category: string;
  readonly script: Script;
  /** Extra time the script itself takes (trickles). */
  readonly slowMs: number;
}

function statusLineCases(n: number): Script[] {
  const fixed = [
    'HTTP/1.1 200 O\x01K',
    'HTTP/1.1 099 X',
    'HTTP/1.1 000 X',
    'HTTP/1.1 200',
    'HTTP/1.1 200 ',
    'HTTP/1.0 200 OK',
    'HTTP/2.0 200 OK',
    'HTTP/1.1 999 X',
    'HTTP/1.1 1000 X',
    'HTTP/1.1 20 X',
    'HTTP/1.1 abc X',
    'http/1.1 200 OK',
    'HTTP/1.1  200 OK',
    `HTTP/1.1 200 ${'r'.repeat(20_000)}`,
    'HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nhello',
  ];
  const out: Script[] = fixed.map((line) => [w(`${line}${OK_TAIL}`), end]);
  // Informational answers before (or instead of) the final one.
  out.push([w(`HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK${OK_TAIL}`), end]);
  out.push([w(`HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK${OK_TAIL}`), end]);
  out.push([w('HTTP/1.1 102 Processing\r\n\r\n'), end]);
  out.push([w('HTTP/1.1 101 Switching Protocols\r\n\r\n'), end]);
  out.push([
    w(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nframes',
    ),
    end,
  ]);
  while (out.length < n) {
    const version = rnd.pick(['HTTP/1.1', 'HTTP/1.0', 'HTTP/1.1', text(rnd.int(1, 10))]);
    const code = rnd.pick([
      String(rnd.int(100, 599)),
      String(rnd.int(0, 999)).padStart(3, '0'),
      String(rnd.int(0, 99)),
      text(3),
    ]);
    // Half the reasons leave out CR and LF, which the parser refuses before anything else.
    const reason = text(
      rnd.pick([0, 1, 5, 20, 60]),
      rnd.chance(0.5) ? ['c0', 'tab', 'space', 'del', 'high', 'nul'] : undefined,
    );
    out.push([w(`${version} ${code} ${reason}${OK_TAIL}`), end]);
  }
  return out;
}

function headerNameCases(n: number): Script[] {
  const out: Script[] = [
    [w(`HTTP/1.1 200 OK\r\n: empty-name${OK_TAIL}`), end],
    [w(`HTTP/1.1 200 OK\r\n${'N'.repeat(20_000)}: v${OK_TAIL}`), end],
    [w(`HTTP/1.1 200 OK\r\nX-Space : v${OK_TAIL}`), end],
    [w(`HTTP/1.1 200 OK\r\nNo-Colon${OK_TAIL}`), end],
  ];
  while (out.length < n) {
    const name = text(rnd.int(1, 30));
    out.push([w(`HTTP/1.1 200 OK\r\n${name}: value${OK_TAIL}`), end]);
  }
  return out;
}

function headerValueCases(n: number): Script[] {
  const many = (count: number): string =>
    Array.from({ length: count }, (_, i) => `X-H${i}: v\r\n`).join('');
  const out: Script[] = [
    [w(`HTTP/1.1 200 OK\r\nX-Huge: ${'v'.repeat(20_000)}${OK_TAIL}`), end],
    [w(`HTTP/1.1 200 OK\r\nX-Huge: ${'v'.repeat(100_000)}${OK_TAIL}`), end],
    [w(`HTTP/1.1 200 OK\r\n${many(500)}Content-Length: 2\r\n\r\nok`), end],
    [w(`HTTP/1.1 200 OK\r\n${many(3_000)}Content-Length: 2\r\n\r\nok`), end],
    [w(`HTTP/1.1 200 OK\r\nX-Fold: a\r\n b${OK_TAIL}`), end],
    [w(`HTTP/1.1 200 OK\r\nX-Empty:${OK_TAIL}`), end],
    [w(`HTTP/1.1 200 OK\r\nConnection: content-length, x-a\r\nX-A: 1${OK_TAIL}`), end],
    [w(`HTTP/1.1 200 OK\r\nUpgrade: websocket\r\nConnection: upgrade${OK_TAIL}`), end],
  ];
  while (out.length < n) {
    const value = text(rnd.pick([1, 10, 40, 200]));
    out.push([w(`HTTP/1.1 200 OK\r\nX-Fuzz: ${value}${OK_TAIL}`), end]);
  }
  return out;
}

function framingCases(n: number): Script[] {
  const h = 'HTTP/1.1 200 OK\r\n';
  const fixed = [
    `${h}Content-Length: abc\r\n\r\nok`,
    `${h}Content-Length: -1\r\n\r\nok`,
    `${h}Content-Length: 99999999999999999999\r\n\r\nok`,
    `${h}Content-Length: 2, 2\r\n\r\nok`,
    `${h}Content-Length: 2\r\nContent-Length: 2\r\n\r\nok`,
    `${h}Content-Length: 2\r\nContent-Length: 3\r\n\r\nok`,
    `${h}Content-Length: 10\r\n\r\nok`,
    `${h}Content-Length: 1\r\n\r\nokEXTRA-BYTES`,
    `${h}Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n`,
    `${h}Transfer-Encoding: chunked\r\n\r\nzz\r\nok\r\n0\r\n\r\n`,
    `${h}Transfer-Encoding: chunked\r\n\r\n2;${'e'.repeat(5_000)}\r\nok\r\n0\r\n\r\n`,
    `${h}Transfer-Encoding: chunked\r\n\r\n2\r\nokX0\r\n\r\n`,
    `${h}Transfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nok`,
    `${h}Transfer-Encoding: chunked\r\n\r\n2\r\nok\r\n`,
    `${h}Transfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nX-Trailer: \x01\r\n\r\n`,
    `${h}Transfer-Encoding: gzip\r\n\r\nnot gzip at all`,
    `${h}Transfer-Encoding: chunked, gzip\r\n\r\n2\r\nok\r\n0\r\n\r\n`,
    `${h}Transfer-Encoding: gzip, chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n`,
    `${h}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n`,
    `${h}\r\nread until close`,
    'HTTP/1.0 200 OK\r\n\r\nhttp/1.0 until close',
    'HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n',
    `${h}Content-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok`,
    `${h}Content-Length: 2\r\n\n\nok`,
    `${h}Content-Length: 2\n\nok`,
  ];
  const out: Script[] = fixed.map((s) => [w(s), end]);
  while (out.length < n) {
    const size = rnd.pick(['2', text(2), String(rnd.int(0, 1 << 20)), `${rnd.int(1, 9)};x`]);
    const both = rnd.chance(0.3) ? `Content-Length: ${rnd.int(0, 50)}\r\n` : '';
    out.push([
      w(
        `${h}${both}Transfer-Encoding: chunked\r\n\r\n${size}\r\n${text(rnd.int(0, 8))}\r\n0\r\n\r\n`,
      ),
      end,
    ]);
  }
  return out;
}

function resetCases(): Script[] {
  const full = 'HTTP/1.1 200 OK\r\nX-A: b\r\nContent-Length: 100\r\n\r\n0123456789';
  const chunked = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n';
  const cuts = [
    0,
    5,
    'HTTP/1.1 200'.length,
    'HTTP/1.1 200 OK\r\n'.length,
    'HTTP/1.1 200 OK\r\nX-A'.length,
  ];
  const out: Script[] = [];
  for (const stop of [reset, end]) {
    for (const cut of cuts) out.push(cut === 0 ? [stop] : [w(full.slice(0, cut)), stop]);
    out.push([w(full.slice(0, full.indexOf('\r\n\r\n') + 4)), stop]); // after headers
    out.push([w(full), stop]); // mid-body (Content-Length)
    out.push([w(chunked), stop]); // mid-body (chunked)
    out.push([w(chunked.slice(0, -4)), stop]); // mid-chunk
  }
  return out;
}

function trickleCases(n: number): { script: Script; slowMs: number }[] {
  // Each says `Connection: close`: the upstream ends the connection after a pause, and a pooled
  // connection must not be reused for the sane request while that end is on its way.
  const answers = [
    'HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 11\r\n\r\nhello world',
    'HTTP/1.1 200 OK\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n',
    'HTTP/1.1 200 O\x01K\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok',
    'HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 50\r\n\r\ntoo short',
  ];
  const out: { script: Script; slowMs: number }[] = [];
  while (out.length < n) {
    const answer = rnd.pick(answers);
    const steps: Step[] = [];
    let slowMs = 0;
    let at = 0;
    const stopAt = rnd.chance(0.3) ? rnd.int(1, answer.length - 1) : answer.length;
    while (at < stopAt && slowMs < 600) {
      const piece = rnd.int(1, 8);
      steps.push(w(answer.slice(at, Math.min(stopAt, at + piece))));
      at += piece;
      const pause = rnd.int(5, 40);
      steps.push({ wait: pause });
      slowMs += pause;
    }
    if (at < stopAt) steps.push(w(answer.slice(at, stopAt)));
    steps.push(rnd.chance(0.5) ? end : reset);
    out.push({ script: steps, slowMs });
  }
  return out;
}

type Verdict = 'proxy-answer' | 'relayed' | 'closed';

interface Tally {
  cases: number;
  requests: number;
  verdicts: Record<Verdict, number>;
}

const tallies = new Map<string, Tally>();
let fx: HostileProxy;
let watch: UncaughtWatch;
const scripts = new Map<string, Script>();

beforeAll(async () => {
  rnd = seededRandom(SEED);
  initClasses(rnd);
  console.log(`hostile upstream fuzz: seed ${SEED} (repeat with WORKCELL_FUZZ_SEED=${SEED})`);
  watch = watchUncaught();
  fx = await startHostileProxy();
  const play = (id: string | undefined): Script =>
    (id === undefined ? undefined : scripts.get(id)) ?? okAnswer('sane');
  fx.plain.script = (req) => play(req.header('x-fuzz-case'));
  fx.secure.script = (req) => play(req.header('x-fuzz-case'));
});

afterAll(async () => {
  watch.stop();
  await fx.close();
  const lines = [...tallies].map(
    ([category, t]) =>
      `  ${category.padEnd(14)} cases ${String(t.cases).padStart(4)}  requests ${String(t.requests).padStart(4)}  proxy answers ${t.verdicts['proxy-answer']}  relayed ${t.verdicts.relayed}  closed ${t.verdicts.closed}`,
  );
  console.log(`hostile upstream fuzz (seed ${SEED}):\n${lines.join('\n')}`);
});

/** Whether an outcome is acceptable, and how it ended. */
function judge(outcome: Outcome): Verdict | null {
  if (outcome.kind === 'closed') return 'closed';
  if (outcome.kind !== 'response') return null;
  const fromProxy =
    (outcome.status === 502 || outcome.status === 503) &&
    /^\{"error":\{"code":"[a-z_]+"/.test(outcome.body.toString('utf8'));
  return fromProxy ? 'proxy-answer' : 'relayed';
}

async function runCategory(
  category: string,
  cases: readonly { script: Script; slowMs: number }[],
): Promise<void> {
  const tally: Tally = {
    cases: cases.length,
    requests: 0,
    verdicts: { 'proxy-answer': 0, relayed: 0, closed: 0 },
  };
  tallies.set(category, tally);
  const failures: string[] = [];
  const errorsBefore = watch.errors.length;
  const fuzzCases: FuzzCase[] = cases.map((c, i) => ({
    id: `${category}-${i}`,
    category,
    script: c.script,
    slowMs: c.slowMs,
  }));
  for (const c of fuzzCases) scripts.set(c.id, c.script);
  for (const path of RELAY_PATHS) {
    await pool(fuzzCases, CONCURRENCY, async (c) => {
      const outcome = await fx.send(path, BASE_DEADLINE_MS + c.slowMs, ['x-fuzz-case', c.id]);
      tally.requests += 1;
      const verdict = judge(outcome);
      if (verdict === null) {
        const first = c.script[0];
        const shown = first && 'write' in first ? first.write.toString('latin1').slice(0, 80) : '';
        failures.push(`${path} ${c.id} ${JSON.stringify(shown)}: ${describeOutcome(outcome)}`);
      } else tally.verdicts[verdict] += 1;
    });
    const sane = await fx.send(path, BASE_DEADLINE_MS);
    if (sane.kind !== 'response' || sane.status !== 200 || sane.body.toString() !== 'sane')
      failures.push(`${path}: the sane request after the batch got ${describeOutcome(sane)}`);
  }
  if (failures.length > 0)
    console.log(`${category} failures (seed ${SEED}):\n  ${failures.join('\n  ')}`);
  expect(watch.errors.slice(errorsBefore), `seed ${SEED}: exceptions nobody caught`).toEqual([]);
  expect(failures.slice(0, 25), `seed ${SEED}: ${failures.length} failures`).toEqual([]);
}

const plainCases = (scripts: Script[]): { script: Script; slowMs: number }[] =>
  scripts.map((script) => ({ script, slowMs: 0 }));

describe('hostile upstream answers on every relay path', () => {
  it('status lines and reason phrases', async () => {
    await runCategory('status-line', plainCases(statusLineCases(50)));
  });

  it('header names', async () => {
    await runCategory('header-name', plainCases(headerNameCases(30)));
  });

  it('header values', async () => {
    await runCategory('header-value', plainCases(headerValueCases(30)));
  });

  it('framing', async () => {
    await runCategory('framing', plainCases(framingCases(35)));
  });

  it('early resets and FINs at every phase', async () => {
    await runCategory('reset', plainCases(resetCases()));
  });

  it('slow trickles (bounded)', async () => {
    await runCategory('trickle', trickleCases(16));
  });
});
