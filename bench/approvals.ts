/**
 * Approvals: how soon a decision reaches the container, and what one approval costs a run.
 *
 * - decision -> tool start: the time from sending `POST .../approvals/:id` `{decision: "allow"}`
 *   to the approved Bash command starting in the container (it writes `date +%s%N` first; the
 *   container and the benchmark share the machine's clock), the decision sent to the host
 *   running the run and, in the same run, to another host of the installation (shared Redis).
 * - one approval vs none: the same one-tool run with an `ask` rule (decided as soon as
 *   `approval.requested` arrives) and without, alternating, wall time from send to the end.
 *
 * Run: npm run build && WORKCELL_IMAGE=... npx tsx bench/approvals.ts [samples=15]
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunEvent } from '@workcell/client';
import { startScratchRedis } from '../test/state/redis-server.js';
import { removeDataDir, startTestHost, type TestHost } from '../test/support/host.js';

const SAMPLES = Number(process.argv[2] ?? 15);

function pct(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}
const round = (n: number, digits = 1): number => Number(n.toFixed(digits));

async function run(
  host: TestHost,
  conversationId: string,
  content: string,
  onEvent: (event: RunEvent) => Promise<void>,
): Promise<RunEvent[]> {
  const events: RunEvent[] = [];
  for await (const event of host.wc.conversations.send(conversationId, content)) {
    events.push(event);
    await onEvent(event);
  }
  if (events.at(-1)?.event !== 'run.completed')
    throw new Error(`the run did not complete: ${JSON.stringify(events.at(-1))}`);
  return events;
}

/** Decision POST (via `decideOn`) -> the approved command's first instruction, in ms. */
async function decisionToStart(
  runs: TestHost,
  decideOn: TestHost,
  workspaceId: string,
  conversationId: string,
): Promise<number> {
  const file = `start-${randomBytes(4).toString('hex')}.txt`;
  const command = `date +%s%N > /workspace/${file}`;
  let sentAt = 0;
  await run(
    runs,
    conversationId,
    `MOCK:${JSON.stringify({ tool: 'Bash', input: { command } })}`,
    async (event) => {
      if (event.event !== 'approval.requested') return;
      sentAt = performance.timeOrigin + performance.now();
      await decideOn.wc.approvals.decide(conversationId, event.data.approvalId, {
        decision: 'allow',
      });
    },
  );
  const startedNs = BigInt((await runs.wc.files.text(workspaceId, file)).trim());
  return Number(startedNs / 1000n) / 1000 - sentAt;
}

/**
 * The same command without an approval: from the model's tool call reaching the client (the
 * SDK's `assistant` message) to the command's first instruction. What the tool itself takes to
 * start, for comparison.
 */
async function toolUseToStart(
  host: TestHost,
  workspaceId: string,
  conversationId: string,
): Promise<number> {
  const file = `start-${randomBytes(4).toString('hex')}.txt`;
  const command = `date +%s%N > /workspace/${file}`;
  let seenAt = 0;
  await run(
    host,
    conversationId,
    `MOCK:${JSON.stringify({ tool: 'Bash', input: { command } })}`,
    async (event) => {
      if (event.event === 'message' && event.data.type === 'assistant' && seenAt === 0)
        seenAt = performance.timeOrigin + performance.now();
    },
  );
  const startedNs = BigInt((await host.wc.files.text(workspaceId, file)).trim());
  return Number(startedNs / 1000n) / 1000 - seenAt;
}

const redis = await startScratchRedis();
const dataDir = mkdtempSync(join(tmpdir(), 'workcell-bench-approvals-'));
const token = `tok_${randomBytes(16).toString('hex')}`;
const tenant = `t${randomBytes(4).toString('hex')}`;
const start = (): Promise<TestHost> =>
  startTestHost({ redisUrl: redis.url, dataDir, token, tenant, logLevel: 'warn' });
const a = await start();
const b = await start();
try {
  const ask = await a.wc.workspaces.create({
    name: 'bench-ask',
    agent: { permissions: { ask: ['Bash'] } },
  });
  const askConv = await a.wc.conversations.create(ask.id);
  const plain = await a.wc.workspaces.create({ name: 'bench-plain' });
  const plainConv = await a.wc.conversations.create(plain.id);
  // Containers up and the CLI warm on both before anything is measured.
  await run(a, askConv.id, 'MOCK:{"text": "warm"}', async () => undefined);
  await run(a, plainConv.id, 'MOCK:{"text": "warm"}', async () => undefined);

  const sameHost: number[] = [];
  const otherHost: number[] = [];
  const noApproval: number[] = [];
  for (let i = 0; i < SAMPLES; i += 1) {
    sameHost.push(await decisionToStart(a, a, ask.id, askConv.id));
    otherHost.push(await decisionToStart(a, b, ask.id, askConv.id));
    noApproval.push(await toolUseToStart(a, plain.id, plainConv.id));
  }

  const ONE_TOOL = 'MOCK:{"tool": "Bash", "input": {"command": "true"}}';
  const withApproval: number[] = [];
  const without: number[] = [];
  for (let i = 0; i < SAMPLES; i += 1) {
    let t = performance.now();
    await run(a, askConv.id, ONE_TOOL, async (event) => {
      if (event.event === 'approval.requested')
        await a.wc.approvals.decide(askConv.id, event.data.approvalId, { decision: 'allow' });
    });
    withApproval.push(performance.now() - t);
    t = performance.now();
    await run(a, plainConv.id, ONE_TOOL, async () => undefined);
    without.push(performance.now() - t);
  }

  console.log(
    JSON.stringify(
      {
        samples: SAMPLES,
        decisionToToolStart: {
          sameHost: { p50Ms: round(pct(sameHost, 50)), p95Ms: round(pct(sameHost, 95)) },
          viaOtherHost: { p50Ms: round(pct(otherHost, 50)), p95Ms: round(pct(otherHost, 95)) },
          withoutApprovalToolCallToStart: {
            p50Ms: round(pct(noApproval, 50)),
            p95Ms: round(pct(noApproval, 95)),
          },
        },
        runWithOneApproval: {
          p50Ms: round(pct(withApproval, 50)),
          withoutP50Ms: round(pct(without, 50)),
          ratioP50: round(pct(withApproval, 50) / pct(without, 50), 2),
        },
      },
      null,
      2,
    ),
  );
} finally {
  await b.close();
  await a.close();
  await redis.dispose();
  await removeDataDir(dataDir);
}
