// Intervals of quantities that cannot leave a range: a rate (a fraction of answers, of rejected
// completions) lies in [0, 1], a difference of two rates in [-1, 1]. At small N a Student-t interval
// over replicates overshoots (at N=2, t(0.975, 1) = 12.7: two replicates at 30% and 32% rejection
// give 31% +- 12.7 points, two at 10% and 52% give 31% +- 267 points). We keep the t interval, the
// lab's one interval for a mean over replicates, and clip it to the range, marking it clipped.
// Clipping loses no coverage: the true mean lies in the range, so it lies in the clipped interval
// exactly when it lies in the t interval. The percentile bootstrap stays inside the range on its own
// (its ends are means of resampled replicates), and the Wilson interval of a pooled count would treat
// every answer of every replicate as independent, ignoring the spread between replicates' models.
import type { IntervalSummary, PairedComparison } from './stats.ts';

export type Range = readonly [low: number, high: number];

/** A rate's range, and a difference of two rates'. */
export const RATE: Range = [0, 1];
export const RATE_DIFFERENCE: Range = [-1, 1];

/** `value` within `range`; NaN stays NaN (no interval). */
function clip(value: number, [low, high]: Range): number {
  return Number.isNaN(value) ? value : Math.min(high, Math.max(low, value));
}

/** The ends clipped to `range`, and whether that changed them. */
function clipEnds(low: number, high: number, range: Range): { low: number; high: number; clipped: boolean } {
  const ends = { low: clip(low, range), high: clip(high, range) };
  return { ...ends, clipped: !Object.is(ends.low, low) || !Object.is(ends.high, high) };
}

/**
 * A mean's interval clipped to `range`; `ci95` becomes half the clipped width, as for any interval
 * that need not be symmetric (the bootstrap's), so show [low, high], not mean +- ci95.
 */
export function boundSummary(s: IntervalSummary, range: Range = RATE): IntervalSummary {
  const { low, high, clipped } = clipEnds(s.low, s.high, range);
  if (!clipped) return s;
  return { ...s, low, high, ci95: (high - low) / 2, clipped: true };
}

/** A paired difference's interval clipped to `range` (the test's t and p are unchanged). */
export function boundComparison<C extends PairedComparison>(c: C, range: Range = RATE_DIFFERENCE): C {
  const { low, high, clipped } = clipEnds(c.low, c.high, range);
  return clipped ? { ...c, low, high, clipped: true } : c;
}
