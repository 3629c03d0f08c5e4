import type { RunSummary } from '@workcell/protocol';
import type { RunRecord } from '../catalog/catalog.js';

/** Tokens, cost and run time of one day and one model. */
export interface UsageRow {
  /** `YYYY-MM-DD`, UTC, the day the run ended. */
  date: string;
  model: string;
  /** Runs whose main model this is (the one with the most output tokens). */
  runs: number;
  inputTokens: number;
  outputTokens: number;
  cacheReadInputTokens: number;
  cacheCreationInputTokens: number;
  costUsd: number;
  /** Wall-clock run time of those runs, milliseconds. */
  runTimeMs: number;
}

export type UsageTotals = Omit<UsageRow, 'date' | 'model'>;

export interface UsageReport {
  from: string | null;
  to: string | null;
  days: UsageRow[];
  totals: UsageTotals;
}

/** Inclusive `YYYY-MM-DD` bounds; null for open. */
export interface UsageRange {
  from: string | null;
  to: string | null;
}

/** The model name runs without per-model usage are counted under. */
export const UNKNOWN_MODEL = 'unknown';

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

function emptyTotals(): UsageTotals {
  return {
    runs: 0,
    inputTokens: 0,
    outputTokens: 0,
    cacheReadInputTokens: 0,
    cacheCreationInputTokens: 0,
    costUsd: 0,
    runTimeMs: 0,
  };
}

/** One run's usage per model, from its `run.completed` summary. */
function perModel(summary: RunSummary): Map<string, Omit<UsageTotals, 'runs' | 'runTimeMs'>> {
  const out = new Map<string, Omit<UsageTotals, 'runs' | 'runTimeMs'>>();
  for (const [model, u] of Object.entries(summary.modelUsage ?? {})) {
    out.set(model, {
      inputTokens: num(u.inputTokens),
      outputTokens: num(u.outputTokens),
      cacheReadInputTokens: num(u.cacheReadInputTokens),
      cacheCreationInputTokens: num(u.cacheCreationInputTokens),
      costUsd: num(u.costUSD),
    });
  }
  if (out.size === 0) {
    const u = summary.usage ?? {};
    out.set(UNKNOWN_MODEL, {
      inputTokens: num(u.input_tokens),
      outputTokens: num(u.output_tokens),
      cacheReadInputTokens: num(u.cache_read_input_tokens),
      cacheCreationInputTokens: num(u.cache_creation_input_tokens),
      costUsd: num(summary.totalCostUsd),
    });
  }
  return out;
}

/**
 * Sums the recorded runs that have a `run.completed` summary (failed runs have none) by day
 * and model, within `range`. A run counts once, with its run time, under its main model.
 */
export function summariseUsage(runs: Iterable<RunRecord>, range: UsageRange): UsageReport {
  const rows = new Map<string, UsageRow>();
  const totals = emptyTotals();
  for (const run of runs) {
    if (!run.summary) continue;
    const date = (run.endedAt ?? run.startedAt).slice(0, 10);
    if ((range.from && date < range.from) || (range.to && date > range.to)) continue;
    const models = perModel(run.summary);
    let main: string | null = null;
    for (const [model, u] of models) {
      if (main === null || u.outputTokens > (models.get(main)?.outputTokens ?? 0)) main = model;
    }
    for (const [model, u] of models) {
      const key = `${date} ${model}`;
      const row = rows.get(key) ?? { date, model, ...emptyTotals() };
      row.inputTokens += u.inputTokens;
      row.outputTokens += u.outputTokens;
      row.cacheReadInputTokens += u.cacheReadInputTokens;
      row.cacheCreationInputTokens += u.cacheCreationInputTokens;
      row.costUsd += u.costUsd;
      if (model === main) {
        row.runs += 1;
        row.runTimeMs += num(run.summary.durationMs);
      }
      rows.set(key, row);
      totals.inputTokens += u.inputTokens;
      totals.outputTokens += u.outputTokens;
      totals.cacheReadInputTokens += u.cacheReadInputTokens;
      totals.cacheCreationInputTokens += u.cacheCreationInputTokens;
      totals.costUsd += u.costUsd;
    }
    totals.runs += 1;
    totals.runTimeMs += num(run.summary.durationMs);
  }
  const days = [...rows.values()].sort(
    (a, b) => a.date.localeCompare(b.date) || a.model.localeCompare(b.model),
  );
  return { from: range.from, to: range.to, days, totals };
}
