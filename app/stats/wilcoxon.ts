// Wilcoxon signed-rank test on paired differences, two-sided, following scipy.stats.wilcoxon
// (scipy 1.17) where it can be followed:
// - zeros: zero_method='wilcox' (scipy's default): zero differences are dropped and n is the number of
//   non-zero differences.
// - statistic: scipy's two-sided convention, W = min(W+, W-), the smaller of the rank sums of the
//   positive and the negative differences (average ranks for tied |d|).
// - p-value: exact when there are no ties and no zeros and n <= 50 (scipy's method='auto' threshold),
//   from the null distribution of W+ enumerated by dynamic programming over the ranks 1..n:
//   p = 2 * min(P(W+ <= w), P(W+ >= w)), capped at 1 (as scipy's method='exact').
//   Otherwise the normal approximation with the tie correction and a continuity correction:
//   z = (W+ - n(n+1)/4 - sign * 0.5) / sqrt((n(n+1)(2n+1) - sum(t^3 - t)/2) / 24), p = 2 * Phi(-|z|)
//   (as scipy's method='asymptotic', correction=True).
//   Where we differ from scipy's defaults: scipy's default is correction=False, and for n <= 13 with
//   ties or zeros its 'auto' runs a permutation test; we always use the corrected normal
//   approximation there (slightly conservative).
import normalCdf from '@stdlib/stats-base-dists-normal-cdf';

/** Largest n for which the exact null distribution is used (as scipy's method='auto'). */
export const WILCOXON_EXACT_MAX_N = 50;

export interface WilcoxonResult {
  /** min(W+, W-) over the non-zero differences (scipy's two-sided statistic). */
  statistic: number;
  /** Sum of the ranks of the positive differences. */
  wPlus: number;
  /** Sum of the ranks of the negative differences. */
  wMinus: number;
  /** Two-sided p-value; NaN when no non-zero difference is left. */
  p: number;
  method: 'exact' | 'approx';
  /** Non-zero differences, the n of the test. */
  nUsed: number;
  /** Zero differences dropped. */
  zeros: number;
  /** Whether some |d| were tied (average ranks, tie-corrected variance). */
  ties: boolean;
}

/** Average ranks (1-based) of values, and the sizes of the groups of ties. */
export function averageRanks(values: readonly number[]): { ranks: number[]; tieSizes: number[] } {
  const order = values.map((_, i) => i).sort((i, j) => values[i]! - values[j]!);
  const ranks = new Array<number>(values.length);
  const tieSizes: number[] = [];
  for (let start = 0; start < order.length;) {
    let end = start + 1;
    while (end < order.length && values[order[end]!] === values[order[start]!]) end++;
    const rank = (start + 1 + end) / 2; // average of the 1-based ranks start+1..end
    for (let k = start; k < end; k++) ranks[order[k]!] = rank;
    tieSizes.push(end - start);
    start = end;
  }
  return { ranks, tieSizes };
}

/**
 * Number of subsets of {1..n} with each sum k = 0..n(n+1)/2, i.e. 2^n times the null distribution of
 * W+ without ties. Counts stay below 2^n <= 2^50 < 2^53, so they are exact in doubles.
 */
export function signedRankCounts(n: number): Float64Array {
  const max = (n * (n + 1)) / 2;
  const counts = new Float64Array(max + 1);
  counts[0] = 1;
  let reach = 0;
  for (let r = 1; r <= n; r++) {
    reach += r;
    for (let k = reach; k >= r; k--) counts[k]! += counts[k - r]!;
  }
  return counts;
}

/** Exact two-sided p-value of W+ = w (integer) for n non-tied, non-zero differences. */
export function exactSignedRankP(w: number, n: number): number {
  const counts = signedRankCounts(n);
  let below = 0; // #{W+ <= w}
  let above = 0; // #{W+ >= w}
  for (let k = 0; k < counts.length; k++) {
    if (k <= w) below += counts[k]!;
    if (k >= w) above += counts[k]!;
  }
  const total = 2 ** n;
  return Math.min(1, (2 * Math.min(below, above)) / total);
}

/** Wilcoxon signed-rank test of the differences d (two-sided). */
export function wilcoxonSignedRank(d: readonly number[]): WilcoxonResult {
  const nonzero = d.filter((x) => x !== 0);
  const n = nonzero.length;
  const zeros = d.length - n;
  const { ranks, tieSizes } = averageRanks(nonzero.map(Math.abs));
  let wPlus = 0;
  let wMinus = 0;
  nonzero.forEach((x, i) => {
    if (x > 0) wPlus += ranks[i]!;
    else wMinus += ranks[i]!;
  });
  const ties = tieSizes.some((t) => t > 1);
  const statistic = Math.min(wPlus, wMinus);
  if (n === 0) return { statistic, wPlus, wMinus, p: Number.NaN, method: 'approx', nUsed: 0, zeros, ties };
  if (!ties && zeros === 0 && n <= WILCOXON_EXACT_MAX_N)
    return {
      statistic,
      wPlus,
      wMinus,
      p: exactSignedRankP(wPlus, n),
      method: 'exact',
      nUsed: n,
      zeros,
      ties,
    };
  const mean = (n * (n + 1)) / 4;
  const tieCorrection = tieSizes.reduce((a, t) => a + t ** 3 - t, 0);
  const se = Math.sqrt((n * (n + 1) * (2 * n + 1) - tieCorrection / 2) / 24);
  let z = (wPlus - mean) / se;
  z -= (Math.sign(z) * 0.5) / se;
  const p = Math.min(1, 2 * normalCdf(-Math.abs(z), 0, 1));
  return { statistic, wPlus, wMinus, p, method: 'approx', nUsed: n, zeros, ties };
}
