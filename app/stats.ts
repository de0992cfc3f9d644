// Summary statistics as the paper reports them: mean +- 1.96 * std / sqrt(N), std with N-1.
export interface Summary {
  mean: number;
  ci95: number;
  n: number;
}

export function summarize(values: readonly number[]): Summary {
  const n = values.length;
  if (n === 0) return { mean: Number.NaN, ci95: Number.NaN, n: 0 };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  if (n === 1) return { mean, ci95: Number.NaN, n };
  const variance = values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1);
  return { mean, ci95: (1.96 * Math.sqrt(variance)) / Math.sqrt(n), n };
}

/** A summary of the models that did not diverge (null values), and how many did: never silent. */
export type KeptSummary = Summary & { diverged: number };

export function summarizeKept(values: readonly (number | null)[]): KeptSummary {
  const kept = values.filter((v): v is number => v !== null);
  return { ...summarize(kept), diverged: values.length - kept.length };
}
