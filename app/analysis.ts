// The representation analysis as results read it (main/engine/phases/analysis.ts records it): its
// metric series, what they are called, and each cell's final values per condition with Student-t
// (or bootstrap) intervals and the paired student-minus-control differences, as for accuracy.
import { COMPARISONS, cellComparisons, type ComparisonSummary } from './comparisons.ts';
import { CONDITIONS, type Condition } from './conditions.ts';
import { holm, summarize, type IntervalMethod, type IntervalSummary } from './stats.ts';

/** Linear CKA of a student's hidden layer `layer` with its teacher's (0-based). */
export const ckaMetric = (layer: number) => `cka.hidden.${layer}`;
/** The linear probe's test accuracy on a model's last hidden layer. */
export const PROBE_ACCURACY = 'probe.accuracy';

/** Name prefixes of the analysis series summarised at the end (both lie in [0, 1]). */
export const ANALYSIS_PREFIXES = ['cka.', 'probe.'] as const;

const CKA = /^cka\.hidden\.(\d+)$/;
const COSINE = /^cosine_layer(\d+)$/;

export function isAnalysisMetric(name: string): boolean {
  return ANALYSIS_PREFIXES.some((p) => name.startsWith(p));
}

/** Whether a series is an accuracy, drawn with chance (1 / classes) and an accuracy axis. */
export function isAccuracyMetric(name: string): boolean {
  return name === 'test_accuracy' || name === PROBE_ACCURACY;
}

/** What a metric is, as an axis or a menu says it. */
export function metricLabel(name: string): string {
  const cka = CKA.exec(name);
  // One-based, as a reader counts layers (the series key and the spec's parts count from 0).
  if (cka) return `linear CKA to the teacher, hidden layer ${Number(cka[1]) + 1}`;
  if (name === PROBE_ACCURACY) return 'linear probe test accuracy';
  const cosine = COSINE.exec(name);
  if (cosine) return `cosine to the teacher's update, layer ${cosine[1]}`;
  if (name === 'cosine_all') return "cosine to the teacher's update, all parameters";
  return name.replace(/_/g, ' ');
}

/** A caption's sentence defining an analysis metric (plain Latin-1: the PDF's Helvetica has no more). */
export function metricDefinition(name: string): string {
  if (CKA.test(name))
    return "Linear CKA (Kornblith et al. 2019): similarity of each model's hidden-layer activations to its own teacher's on a fixed set of test images, centred, ||Y'X||^2 / (||X'X|| ||Y'Y||); 1 = the same up to rotation and scale.";
  if (name === PROBE_ACCURACY)
    return "Linear probe: logistic regression on each model's last hidden layer, fitted on a fixed set of training images and scored on held-out test images.";
  return '';
}

/** Analysis metrics in reading order: CKA by layer, then the probe. */
export function compareMetrics(a: string, b: string): number {
  const rank = (m: string) => {
    const cka = CKA.exec(m);
    return cka ? Number(cka[1]) : m === PROBE_ACCURACY ? 1000 : 2000;
  };
  return rank(a) - rank(b) || a.localeCompare(b);
}

/** One analysis metric of a cell at the end: each condition's last recorded value, over replicates. */
export interface AnalysisSummary {
  metric: string;
  conditions: Partial<Record<Condition, IntervalSummary>>;
  /** Paired per replicate (student minus cross-init, ...), Holm-corrected across cells per metric. */
  comparisons: ComparisonSummary[];
  /** Each replicate's final value per condition (the per-seed CSV). */
  values: { condition: Condition; replicate: number; value: number }[];
}

/** A metric row at its (condition, metric)'s last step. */
export interface FinalRow {
  condition: Condition;
  replicate: number;
  name: string;
  value: number;
}

/** A cell's analysis summaries from its final rows (pHolm is the raw p until adjustAnalysisAcrossCells). */
export function summarizeAnalysis(
  rows: readonly FinalRow[],
  method: IntervalMethod = 't',
): AnalysisSummary[] {
  const metrics = [...new Set(rows.map((r) => r.name))].filter(isAnalysisMetric).sort(compareMetrics);
  return metrics.map((metric) => {
    const mine = rows.filter((r) => r.name === metric);
    const conditions: Partial<Record<Condition, IntervalSummary>> = {};
    for (const condition of CONDITIONS) {
      const values = mine.filter((r) => r.condition === condition).map((r) => r.value);
      if (values.length > 0) conditions[condition] = summarize(values, method);
    }
    const asResults = mine.map((r) => ({
      condition: r.condition,
      replicate: r.replicate,
      accuracy: r.value,
    }));
    return {
      metric,
      conditions,
      comparisons: cellComparisons(asResults, method),
      values: mine
        .map(({ condition, replicate, value }) => ({ condition, replicate, value }))
        .sort(
          (a, b) =>
            CONDITIONS.indexOf(a.condition) - CONDITIONS.indexOf(b.condition) || a.replicate - b.replicate,
        ),
    };
  });
}

/** Holm across cells, one family per (metric, comparison), in place. */
export function adjustAnalysisAcrossCells(cells: readonly { analysis?: AnalysisSummary[] }[]): void {
  const metrics = new Set(cells.flatMap((c) => (c.analysis ?? []).map((a) => a.metric)));
  for (const metric of metrics)
    for (const { a, b } of COMPARISONS) {
      const family = cells.flatMap((c) =>
        (c.analysis ?? [])
          .filter((s) => s.metric === metric)
          .flatMap((s) => s.comparisons.filter((x) => x.a === a && x.b === b)),
      );
      const adjusted = holm(family.map((x) => x.p));
      family.forEach((x, i) => (x.pHolm = adjusted[i]!));
    }
}
