// Metric rows (one per replicate and step) -> curves with mean +- 95% CI across replicates. Used for
// stored runs in main and for live rows in the UI, so both draw the same numbers.
import type { SeedLine, SeriesData } from './api.ts';
import type { Condition } from './conditions.ts';
import { summarize } from './stats.ts';

export interface SeriesRow {
  cell: number;
  condition: Condition;
  replicate: number;
  step: number;
  name: string;
  value: number;
}

interface Group {
  cell: number;
  condition: Condition;
  name: string;
  byStep: Map<number, { replicate: number; value: number }[]>;
}

/**
 * Curves per (cell, condition, metric). With `perSeed`, each also carries every replicate's own
 * line on the same steps, for drawing the seeds behind the mean.
 */
export function aggregateSeries(
  rows: readonly SeriesRow[],
  options: { perSeed?: boolean } = {},
): SeriesData[] {
  const groups = new Map<string, Group>();
  for (const r of rows) {
    const key = `${r.cell}\u0000${r.condition}\u0000${r.name}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { cell: r.cell, condition: r.condition, name: r.name, byStep: new Map() }));
    let values = g.byStep.get(r.step);
    if (!values) g.byStep.set(r.step, (values = []));
    values.push({ replicate: r.replicate, value: r.value });
  }
  return [...groups.values()].map((g) => {
    const steps = [...g.byStep.keys()].sort((a, b) => a - b);
    const stats = steps.map((s) => summarize(g.byStep.get(s)!.map((v) => v.value)));
    return {
      cell: g.cell,
      condition: g.condition,
      name: g.name,
      steps,
      mean: stats.map((s) => s.mean),
      ci95: stats.map((s) => (Number.isNaN(s.ci95) ? 0 : s.ci95)),
      n: stats.map((s) => s.n),
      ...(options.perSeed ? { perSeed: seedLines(g, steps) } : {}),
    };
  });
}

/** Each replicate's values on `steps`, null where it has none (a diverged model, a shard not in yet). */
function seedLines(g: Group, steps: number[]): SeedLine[] {
  const lines = new Map<number, (number | null)[]>();
  steps.forEach((step, k) => {
    for (const { replicate, value } of g.byStep.get(step)!) {
      let values = lines.get(replicate);
      if (!values) lines.set(replicate, (values = new Array<number | null>(steps.length).fill(null)));
      values[k] = value;
    }
  });
  return [...lines.entries()].sort(([a], [b]) => a - b).map(([replicate, values]) => ({ replicate, values }));
}

/** The part of a series recorded up to `step` (for replay). */
export function seriesUpTo(series: SeriesData, step: number): SeriesData {
  let k = 0;
  while (k < series.steps.length && series.steps[k]! <= step) k++;
  return {
    ...series,
    steps: series.steps.slice(0, k),
    mean: series.mean.slice(0, k),
    ci95: series.ci95.slice(0, k),
    n: series.n.slice(0, k),
    ...(series.perSeed
      ? { perSeed: series.perSeed.map((s) => ({ replicate: s.replicate, values: s.values.slice(0, k) })) }
      : {}),
  };
}
