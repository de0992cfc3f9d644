// Metric rows (one per replicate and step) -> curves with mean +- 95% CI across replicates. Used for
// stored runs in main and for live rows in the UI, so both draw the same numbers.
import type { ApiInput, SeedLine, SeriesCursor, SeriesData, SeriesPage } from './api.ts';
import type { Condition } from './conditions.ts';
import { summarize, tQuantile } from './stats.ts';

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

/** What SQL sums over one step's replicates: enough for the mean and its Student-t interval. */
export interface StepMoments {
  n: number;
  sum: number;
  sumSquares: number;
  min: number;
  max: number;
}

const T975 = new Map<number, number>();

/**
 * Mean and 95% CI half-width (0 where N < 2, as aggregateSeries draws it) from a step's sums. Equal
 * values have no spread, exactly; otherwise the variance is (sum of squares - sum x mean) / (N - 1),
 * which loses only about mean^2 / variance ulps: far below what a chart or a CSV of it shows.
 */
export function momentsPoint(m: StepMoments): { mean: number; ci95: number; n: number } {
  const mean = m.sum / m.n;
  if (m.n < 2 || m.min === m.max) return { mean: m.n < 2 ? mean : m.min, ci95: 0, n: m.n };
  const variance = Math.max(0, (m.sumSquares - m.sum * mean) / (m.n - 1));
  let t = T975.get(m.n);
  if (t === undefined) T975.set(m.n, (t = tQuantile(0.975, m.n - 1)));
  const ci95 = (t * Math.sqrt(variance)) / Math.sqrt(m.n);
  // An infinite value (a loss that blew up) has no finite spread; drawn, like aggregateSeries, as none.
  return { mean, ci95: Number.isFinite(ci95) ? ci95 : 0, n: m.n };
}

/**
 * Every page of a series request, in order: `fetchPage` is the transport's `experiments.series`. A
 * page that is not the last yet holds nothing would loop forever; it is refused instead.
 */
export async function loadSeries(
  request: Omit<ApiInput<'experiments.series'>, 'from'>,
  fetchPage: (input: ApiInput<'experiments.series'>) => Promise<SeriesPage> | SeriesPage,
): Promise<SeriesData[]> {
  const all: SeriesData[] = [];
  let from: SeriesCursor | undefined;
  for (;;) {
    const page = await fetchPage(from ? { ...request, from } : request);
    all.push(...page.series);
    if (!page.next) return all;
    if (page.series.length === 0)
      throw new Error('experiments.series sent an empty page that is not the last');
    from = page.next;
  }
}
