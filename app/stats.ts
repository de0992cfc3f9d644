// Statistics across replicates (seeds), as a reviewer would accept them: Student-t intervals
// (df = N - 1, not the normal 1.96, which at N = 3 is 2.2x too narrow), a seeded percentile bootstrap,
// paired comparisons (paired t and Wilcoxon signed-rank), Holm's correction across the cells of a
// matrix and a small-N warning. Pure TS: runs in Node and in the browser.
//
// The t and normal distributions come from stdlib (ports of Boost's incomplete beta and erfc), not
// from hand-written numerics; the reference values in stats.test.ts come from scipy 1.17
// (app/stats.reference.py).
import tCdf from '@stdlib/stats-base-dists-t-cdf';
import tQuantileImpl from '@stdlib/stats-base-dists-t-quantile';
import { seededUniform } from './stats/prng.ts';
import { wilcoxonSignedRank, type WilcoxonResult } from './stats/wilcoxon.ts';

export { seededUniform } from './stats/prng.ts';
export { WILCOXON_EXACT_MAX_N, wilcoxonSignedRank, type WilcoxonResult } from './stats/wilcoxon.ts';

/** Mean and 95% CI half-width across replicates. Kept minimal: summaries built elsewhere use it. */
export interface Summary {
  mean: number;
  /** Half-width of the 95% interval: the interval is mean +- ci95. */
  ci95: number;
  n: number;
}

/** What summarize returns: a Summary plus the interval's ends, the sd and how it was made. */
export interface IntervalSummary extends Summary {
  /** Sample standard deviation (N - 1 in the denominator). */
  sd: number;
  /** mean - ci95 */
  low: number;
  /** mean + ci95 */
  high: number;
  /**
   * 't': Student-t interval, t_{0.975, N-1} * sd / sqrt(N) (ci95 is its half-width).
   * 'bootstrap': seeded percentile bootstrap (low and high from the resampled means; ci95 is half of
   * high - low, since the interval need not be symmetric).
   */
  method: IntervalMethod;
  /** Set when the interval was clipped to the range its quantity cannot leave (app/bounded-interval.ts). */
  clipped?: boolean;
}

/** How intervals are made: Student-t (the default) or a seeded percentile bootstrap. */
export const INTERVAL_METHODS = ['t', 'bootstrap'] as const;
export type IntervalMethod = (typeof INTERVAL_METHODS)[number];

/** Resamples and seed of the bootstrap option: fixed, so an interval is the same on every screen. */
export const BOOTSTRAP_RESAMPLES = 10000;
export const BOOTSTRAP_SEED = 0;

function bootstrapEnds(values: readonly number[]): { low: number; high: number } {
  const { low, high } = bootstrapCI(values, { resamples: BOOTSTRAP_RESAMPLES, seed: BOOTSTRAP_SEED });
  return { low, high };
}

/** The p-quantile of Student's t with df degrees of freedom (NaN for df <= 0 or p outside [0, 1]). */
export function tQuantile(p: number, df: number): number {
  return tQuantileImpl(p, df);
}

/** P(T <= t) for Student's t with df degrees of freedom. */
export function tCumulative(t: number, df: number): number {
  return tCdf(t, df);
}

/**
 * Mean, sample sd and the Student-t 95% interval mean +- t_{0.975,N-1} * sd / sqrt(N).
 * N = 0: every field NaN (n 0). N = 1: the mean is the value; sd, ci95, low and high are NaN (one
 * replicate says nothing about spread). Non-finite values propagate (NaN in, NaN out).
 */
export function summarize(values: readonly number[], method: IntervalMethod = 't'): IntervalSummary {
  const n = values.length;
  const nan = Number.NaN;
  if (n === 0) return { mean: nan, ci95: nan, n: 0, sd: nan, low: nan, high: nan, method };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  if (n === 1) return { mean, ci95: nan, n, sd: nan, low: nan, high: nan, method };
  const sd = sampleSd(values, mean);
  if (method === 'bootstrap') {
    const { low, high } = bootstrapEnds(values);
    return { mean, ci95: (high - low) / 2, n, sd, low, high, method };
  }
  const ci95 = (tQuantile(0.975, n - 1) * sd) / Math.sqrt(n);
  return { mean, ci95, n, sd, low: mean - ci95, high: mean + ci95, method };
}

function sampleSd(values: readonly number[], mean: number): number {
  return Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (values.length - 1));
}

/** Below this many replicates smallSampleWarning speaks up. */
export const MIN_RECOMMENDED_N = 5;

/** A warning for N below 5, undefined from 5 up. */
export function smallSampleWarning(n: number): string | undefined {
  if (n >= MIN_RECOMMENDED_N) return undefined;
  if (n < 2) return `N=${n}: no interval or test is possible; use at least ${MIN_RECOMMENDED_N} seeds`;
  return `N=${n}: intervals are wide and the tests have little power; use at least ${MIN_RECOMMENDED_N} seeds`;
}

export interface BootstrapOptions {
  /** Number of resamples (default 10000). */
  resamples?: number;
  /** PRNG seed (default 0): the same seed and values give the same interval everywhere. */
  seed?: number;
  /** Confidence level (default 0.95). */
  level?: number;
}

export interface BootstrapInterval {
  /** Mean of the values (the statistic on the original sample). */
  mean: number;
  low: number;
  high: number;
  level: number;
  resamples: number;
  seed: number;
  method: 'percentile';
  n: number;
}

/**
 * Percentile bootstrap interval of the mean: `resamples` resamples of the values with replacement
 * (indices from a seeded PRNG), the interval is the (1-level)/2 and (1+level)/2 quantiles of the
 * resampled means (linear interpolation between order statistics, numpy's default). Like every
 * percentile bootstrap it is too narrow for small N (it uses the plug-in sd, N in the denominator, and
 * normal-like tails): prefer the t interval below N of 10 or so. N < 2: low and high are NaN.
 */
export function bootstrapCI(values: readonly number[], options: BootstrapOptions = {}): BootstrapInterval {
  const { resamples = 10000, seed = 0, level = 0.95 } = options;
  if (!Number.isInteger(resamples) || resamples < 1)
    throw new RangeError(`resamples must be a positive integer, got ${resamples}`);
  if (!(level > 0 && level < 1)) throw new RangeError(`level must be in (0, 1), got ${level}`);
  const n = values.length;
  const mean = n === 0 ? Number.NaN : values.reduce((a, b) => a + b, 0) / n;
  const base = { mean, level, resamples, seed, method: 'percentile' as const, n };
  if (n < 2) return { ...base, low: Number.NaN, high: Number.NaN };
  const uniform = seededUniform(seed);
  const means = new Float64Array(resamples);
  for (let b = 0; b < resamples; b++) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += values[Math.floor(uniform() * n)]!;
    means[b] = sum / n;
  }
  means.sort();
  const alpha = (1 - level) / 2;
  return { ...base, low: quantileSorted(means, alpha), high: quantileSorted(means, 1 - alpha) };
}

/** Quantile q of sorted values, linear interpolation between order statistics (numpy 'linear'). */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const h = (sorted.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
}

export interface PairedComparison {
  /** Pairs (a[i], b[i]). */
  n: number;
  /** mean(a - b) */
  meanDiff: number;
  /** Sample sd of the differences (N - 1). */
  sdDiff: number;
  /** 95% interval of the mean difference: Student-t, or the bootstrap of the differences. */
  low: number;
  high: number;
  method: IntervalMethod;
  /** Set when the interval was clipped to the range a difference of rates cannot leave (app/bounded-interval.ts). */
  clipped?: boolean;
  /** Paired t statistic meanDiff / (sdDiff / sqrt(n)); +-Infinity when all differences are equal and non-zero. */
  t: number;
  df: number;
  /** Two-sided p-value of the paired t test. */
  p: number;
  /** Wilcoxon signed-rank test of the differences (see app/stats/wilcoxon.ts for the conventions). */
  wilcoxon: WilcoxonResult;
  /** Set when some of the above could not be computed (N < 2, non-finite values) or N is small. */
  warning?: string;
}

/**
 * Paired comparison of replicates matched by index: a[i] against b[i] (a student against its cross-init
 * control from the same teacher, a teacher against its student). Differences are a - b.
 * Arrays of different lengths are a programming error: RangeError. N < 2 or a non-finite value: the
 * result has NaN fields and a `warning` (no throw, so that a matrix with one thin cell still renders).
 * 2 <= N < 5: the numbers are computed and `warning` is the small-N warning.
 */
export function pairedComparison(
  a: readonly number[],
  b: readonly number[],
  method: IntervalMethod = 't',
): PairedComparison {
  if (a.length !== b.length)
    throw new RangeError(
      `paired comparison needs arrays of the same length, got ${a.length} and ${b.length}`,
    );
  const n = a.length;
  const d = a.map((x, i) => x - b[i]!);
  const nan = Number.NaN;
  const nanResult = (warning: string): PairedComparison => ({
    n,
    meanDiff: n === 0 ? nan : d.reduce((s, x) => s + x, 0) / n,
    sdDiff: nan,
    low: nan,
    high: nan,
    method,
    t: nan,
    df: n - 1,
    p: nan,
    wilcoxon: {
      statistic: nan,
      wPlus: nan,
      wMinus: nan,
      p: nan,
      method: 'approx',
      nUsed: 0,
      zeros: 0,
      ties: false,
    },
    warning,
  });
  if (n < 2) return nanResult(smallSampleWarning(n)!);
  if (!d.every(Number.isFinite)) return nanResult(`N=${n}: some values are not finite; no comparison`);
  // The bootstrap resamples the differences, so the pairing is kept.
  const { mean: meanDiff, sd: sdDiff, low, high } = summarize(d, method);
  const df = n - 1;
  // 0 / 0 (all differences zero) is NaN, as in scipy; c / 0 is +-Infinity with p = 0.
  const t = meanDiff / (sdDiff / Math.sqrt(n));
  const p = Number.isNaN(t) ? nan : Math.min(1, 2 * tCdf(-Math.abs(t), df));
  const wilcoxon = wilcoxonSignedRank(d);
  const warning = smallSampleWarning(n);
  return { n, meanDiff, sdDiff, low, high, method, t, df, p, wilcoxon, ...(warning ? { warning } : {}) };
}

/**
 * Holm-Bonferroni step-down adjusted p-values, in the input's order: with p sorted ascending,
 * adj_(i) = min(1, max_{j <= i} (m - j + 1) p_(j)) (1-based), so they are monotone in p and capped at
 * 1. NaN entries (cells without a test) stay NaN and are not counted in m, as R's p.adjust does.
 */
export function holm(pValues: readonly number[]): number[] {
  const present = pValues.map((p, i) => ({ p, i })).filter((x) => !Number.isNaN(x.p));
  for (const { p } of present)
    if (p < 0 || p > 1) throw new RangeError(`p-values must be in [0, 1], got ${p}`);
  present.sort((x, y) => x.p - y.p || x.i - y.i);
  const m = present.length;
  const out = pValues.map(() => Number.NaN);
  let running = 0;
  present.forEach(({ p, i }, k) => {
    running = Math.max(running, Math.min(1, (m - k) * p));
    out[i] = running;
  });
  return out;
}

/** A summary of the models that did not diverge (null values), and how many did: never silent. */
export type KeptSummary = IntervalSummary & { diverged: number };

export function summarizeKept(values: readonly (number | null)[], method: IntervalMethod = 't'): KeptSummary {
  const kept = values.filter((v): v is number => v !== null);
  return { ...summarize(kept, method), diverged: values.length - kept.length };
}
