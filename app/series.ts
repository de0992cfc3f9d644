// Metric rows (one per replicate and step) -> curves with mean +- 95% CI across replicates. Used for
// stored runs in main and for live rows in the UI, so both draw the same numbers.
import type { SeriesData } from './api.ts';
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

export function aggregateSeries(rows: readonly SeriesRow[]): SeriesData[] {
  const groups = new Map<
    string,
    { cell: number; condition: Condition; name: string; byStep: Map<number, number[]> }
  >();
  for (const r of rows) {
    const key = `${r.cell}\u0000${r.condition}\u0000${r.name}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { cell: r.cell, condition: r.condition, name: r.name, byStep: new Map() }));
    let values = g.byStep.get(r.step);
    if (!values) g.byStep.set(r.step, (values = []));
    values.push(r.value);
  }
  return [...groups.values()].map((g) => {
    const steps = [...g.byStep.keys()].sort((a, b) => a - b);
    const stats = steps.map((s) => summarize(g.byStep.get(s)!));
    return {
      cell: g.cell,
      condition: g.condition,
      name: g.name,
      steps,
      mean: stats.map((s) => s.mean),
      ci95: stats.map((s) => (Number.isNaN(s.ci95) ? 0 : s.ci95)),
      n: stats.map((s) => s.n),
    };
  });
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
  };
}
