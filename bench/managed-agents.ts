/**
 * The Managed Agents API against Workcell's own API, in one run, on one host with ready agents
 * (a warm pool of two, Claude Code started ahead) and the mock model. For each of `runs`
 * rounds, in turn:
 *
 * - Managed Agents (the official SDK): `sessions.create` -> stream -> `user.message` -> the first
 *   `agent.message` (a one-turn session's answer), then a follow-up message -> its first
 *   `agent.message`.
 * - Workcell: create a workspace, set its agent settings and egress (what a session's creation
 *   does), create a conversation, POST a message (streamed) -> the first assistant text, then a
 *   follow-up -> its first assistant text.
 *
 * Before each measurement the host is quiet (the pool refilled). Prints p50 and p95 of each
 * and the Managed Agents / Workcell ratio (target: <= 1.2).
 *
 * Run: npx tsx --tsconfig tsconfig.check.json bench/managed-agents.ts [runs=15]   (WORKCELL_IMAGE picks the image)
 */
import { setTimeout as sleep } from 'node:timers/promises';
import Anthropic from '@anthropic-ai/sdk';
import { startTestHost, type TestHost } from '../test/support/host.js';

const RUNS = Number(process.argv[2] ?? 15);
const PROMPT = 'MOCK:{"text": "hello"}';
const FOLLOW_UP = 'MOCK:{"text": "again"}';
const MODEL = 'claude-sonnet-4-6';

function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

/** Waits until the host's warm pool is full again. */
async function quiet(host: TestHost, size: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const warm = (await host.workcell.state.listContainers()).filter((c) => c.state === 'warm');
    if (warm.length >= size) return;
    await sleep(100);
  }
}

async function managedAgentsRound(
  client: Anthropic,
  agentId: string,
  environmentId: string,
): Promise<{ first: number; followUp: number }> {
  const firstMessage = async (sessionId: string, text: string): Promise<void> => {
    const stream = await client.beta.sessions.events.stream(sessionId);
    await client.beta.sessions.events.send(sessionId, {
      events: [{ type: 'user.message', content: [{ type: 'text', text }] }],
    });
    for await (const event of stream) if (event.type === 'agent.message') break;
  };
  const waitIdle = async (sessionId: string): Promise<void> => {
    while ((await client.beta.sessions.retrieve(sessionId)).status !== 'idle') await sleep(20);
  };
  const t0 = performance.now();
  const session = await client.beta.sessions.create({
    agent: agentId,
    environment_id: environmentId,
  });
  await firstMessage(session.id, PROMPT);
  const first = performance.now() - t0;
  await waitIdle(session.id);
  const t1 = performance.now();
  await firstMessage(session.id, FOLLOW_UP);
  const followUp = performance.now() - t1;
  await waitIdle(session.id);
  return { first, followUp };
}

async function workcellRound(host: TestHost): Promise<{ first: number; followUp: number }> {
  const { wc } = host;
  const firstText = async (conversationId: string, text: string): Promise<void> => {
    const stream = wc.conversations.send(conversationId, text);
    for await (const event of stream) {
      const data = event.data as { type?: string; message?: { content?: { type: string }[] } };
      if (
        event.event === 'message' &&
        data.type === 'assistant' &&
        data.message?.content?.some((b) => b.type === 'text')
      )
        break;
    }
  };
  const waitDone = async (conversationId: string): Promise<void> => {
    while ((await wc.conversations.get(conversationId)).runs.some((r) => r.status === 'running'))
      await sleep(20);
  };
  const t0 = performance.now();
  const ws = await wc.workspaces.create({ name: 'bench' });
  await wc.agent.set(ws.id, { model: MODEL, disallowedTools: ['Task', 'TodoWrite'] });
  await wc.egress.set(ws.id, []);
  const conversation = await wc.conversations.create(ws.id);
  await firstText(conversation.id, PROMPT);
  const first = performance.now() - t0;
  await waitDone(conversation.id);
  const t1 = performance.now();
  await firstText(conversation.id, FOLLOW_UP);
  const followUp = performance.now() - t1;
  await waitDone(conversation.id);
  return { first, followUp };
}

async function main(): Promise<void> {
  const pool = 2;
  const host = await startTestHost({ warmPoolSize: pool, agentPrewarm: 'true' });
  try {
    const client = new Anthropic({ baseURL: host.url, apiKey: host.token, maxRetries: 0 });
    const agent = await client.beta.agents.create({
      name: 'bench',
      model: MODEL,
      tools: [{ type: 'agent_toolset_20260401' }],
    });
    const environment = await client.beta.environments.create({
      name: 'bench',
      config: { type: 'cloud', networking: { type: 'limited', allowed_hosts: [] } },
    });
    const ma = { first: [] as number[], followUp: [] as number[] };
    const own = { first: [] as number[], followUp: [] as number[] };
    for (let i = 0; i < RUNS; i += 1) {
      await quiet(host, pool);
      const a = await managedAgentsRound(client, agent.id, environment.id);
      ma.first.push(a.first);
      ma.followUp.push(a.followUp);
      await quiet(host, pool);
      const b = await workcellRound(host);
      own.first.push(b.first);
      own.followUp.push(b.followUp);
    }
    const row = (name: string, m: number[], w: number[]): string => {
      const p50 = [quantile(m, 0.5), quantile(w, 0.5)];
      const p95 = [quantile(m, 0.95), quantile(w, 0.95)];
      return `${name.padEnd(34)} MA p50 ${p50[0]?.toFixed(0)} ms, p95 ${p95[0]?.toFixed(0)} ms | Workcell p50 ${p50[1]?.toFixed(0)} ms, p95 ${p95[1]?.toFixed(0)} ms | ratio p50 ${((p50[0] ?? 0) / (p50[1] ?? 1)).toFixed(2)}`;
    };
    console.log(`runs: ${RUNS}, warm pool ${pool}, ready agents on`);
    console.log(row('create -> first agent.message', ma.first, own.first));
    console.log(row('follow-up -> first agent.message', ma.followUp, own.followUp));
  } finally {
    await host.close();
  }
}

await main();
