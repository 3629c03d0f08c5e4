import type { TestHost } from './host.js';

/** Runs counted by `workcell_agent_ready_runs_total`: on a ready process, and fallbacks by reason. */
export async function readyRuns(
  host: Pick<TestHost, 'workcell'>,
): Promise<{ used: number; fallback: Record<string, number> }> {
  const text = await host.workcell.metrics.render();
  let used = 0;
  const fallback: Record<string, number> = {};
  for (const m of text.matchAll(
    /^workcell_agent_ready_runs_total\{result="(used|fallback)",reason="([a-z_]*)"\} (\d+)$/gm,
  )) {
    if (m[1] === 'used') used += Number(m[3]);
    else fallback[m[2] ?? ''] = Number(m[3]);
  }
  return { used, fallback };
}

/** Containers of the host whose agent has a ready process (`/health` `pool.ready`). */
export async function readyCount(host: Pick<TestHost, 'wc'>): Promise<number> {
  const health = await host.wc.health();
  return health.pool.ready;
}

/** Waits until at least `n` of the host's containers have a ready process. */
export async function waitForReady(
  host: Pick<TestHost, 'wc'>,
  n: number,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = -1;
  while (Date.now() < deadline) {
    last = await readyCount(host);
    if (last >= n) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${n} ready agent process(es) expected, ${last} after ${timeoutMs} ms`);
}

/** Waits until the agent of container `id` has its ready process started. */
export async function waitForContainerReady(
  host: Pick<TestHost, 'workcell'>,
  id: string,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const record = await host.workcell.state.getContainer(id);
    if (record && (await host.workcell.orchestrator.readyAgents([record])) === 1) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`container ${id}: no ready agent process after ${timeoutMs} ms`);
}

/** Waits until a warm (unassigned) container of the host has its ready process started. */
export async function waitForWarmReady(
  host: Pick<TestHost, 'workcell'>,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const warm = (await host.workcell.state.listContainers()).filter((r) => r.state === 'warm');
    if ((await host.workcell.orchestrator.readyAgents(warm)) > 0) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no warm container with a ready agent process after ${timeoutMs} ms`);
}
