// The paper's claims as paired comparisons: each replicate's student and its cross-init control learn
// from the same teacher (and the teacher and its student share a seed), so differences are taken per
// replicate. One family per comparison across the cells of a matrix is corrected with Holm.
import type { Condition } from './conditions.ts';
import { holm, pairedComparison, smallSampleWarning, type IntervalMethod } from './stats.ts';

/** The comparisons every cell reports: a student against its control, and the teacher against it. */
export const COMPARISONS = [
  { a: 'student', b: 'cross_init', label: 'student minus cross-init' },
  { a: 'student_all_logits', b: 'cross_init_all_logits', label: 'all logits: student minus cross-init' },
  { a: 'teacher', b: 'student', label: 'teacher minus student' },
] as const satisfies readonly { a: Condition; b: Condition; label: string }[];

export interface ComparisonSummary {
  a: Condition;
  b: Condition;
  label: string;
  /** Replicates where both models have a result (diverged ones are left out of both sides). */
  n: number;
  meanDiff: number;
  /** 95% interval of the mean difference (Student-t, or the bootstrap of the differences). */
  low: number;
  high: number;
  method: IntervalMethod;
  t: number;
  df: number;
  /** Two-sided paired t-test p-value, and Holm-adjusted across the experiment's cells. */
  p: number;
  pHolm: number;
  /** Wilcoxon signed-rank (zeros dropped), two-sided. */
  wilcoxonP: number;
  warning?: string;
}

interface ResultLike {
  condition: string;
  replicate: number;
  accuracy: number | null;
}

/** The paired comparisons of one cell (pHolm is the raw p until `adjustAcrossCells`). */
export function cellComparisons(
  results: readonly ResultLike[],
  method: IntervalMethod = 't',
): ComparisonSummary[] {
  const byCondition = (c: Condition) =>
    new Map(
      results.filter((r) => r.condition === c && r.accuracy !== null).map((r) => [r.replicate, r.accuracy!]),
    );
  const out: ComparisonSummary[] = [];
  for (const { a, b, label } of COMPARISONS) {
    const left = byCondition(a);
    const right = byCondition(b);
    const replicates = [...left.keys()].filter((r) => right.has(r)).sort((x, y) => x - y);
    if (replicates.length === 0) continue;
    const c = pairedComparison(
      replicates.map((r) => left.get(r)!),
      replicates.map((r) => right.get(r)!),
      method,
    );
    const warning = c.warning ?? smallSampleWarning(c.n);
    out.push({
      a,
      b,
      label,
      n: c.n,
      meanDiff: c.meanDiff,
      low: c.low,
      high: c.high,
      method: c.method,
      t: c.t,
      df: c.df,
      p: c.p,
      pHolm: c.p,
      wilcoxonP: c.wilcoxon.p,
      ...(warning ? { warning } : {}),
    });
  }
  return out;
}

/** Holm across cells, one family per comparison kind (in place). */
export function adjustAcrossCells(cells: readonly { comparisons: ComparisonSummary[] }[]): void {
  for (const { a, b } of COMPARISONS) {
    const family = cells.flatMap((c) => c.comparisons.filter((x) => x.a === a && x.b === b));
    const adjusted = holm(family.map((x) => x.p));
    family.forEach((x, i) => (x.pHolm = adjusted[i]!));
  }
}

const num = (x: number, digits = 3) => (Number.isFinite(x) ? x.toFixed(digits) : '-');
const signed = (x: number) => (Number.isFinite(x) && x >= 0 ? `+${num(x)}` : num(x));
export const pText = (p: number) => (!Number.isFinite(p) ? '-' : p < 0.001 ? '<0.001' : p.toFixed(3));

/** "student minus cross-init: +0.056 [-0.001, 0.113], t(5) = 2.31, p = 0.069 (Holm 0.069), Wilcoxon p = 0.094, N = 6" */
export function comparisonText(c: ComparisonSummary): string {
  return (
    `${c.label}: ${signed(c.meanDiff)} [${num(c.low)}, ${num(c.high)}]${c.method === 'bootstrap' ? ' (bootstrap)' : ''}, t(${c.df}) = ${num(c.t, 2)}, ` +
    `p = ${pText(c.p)} (Holm ${pText(c.pHolm)}), Wilcoxon p = ${pText(c.wilcoxonP)}, N = ${c.n}` +
    (c.warning ? ` (${c.warning})` : '')
  );
}
