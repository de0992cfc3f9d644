// Filters between the teacher's outputs and the student, as pure functions on host arrays.
// Input: teacher logits [S, B, L]. Output: target probabilities [S, B, L] (zero outside the kept
// logits) and per-sample weights [S, B] (0 = the sample was rejected or dropped).
import {
  BANNED_NUMBERS,
  numbersToProbabilities,
  parseNumberSequence,
  quantizeProbabilities,
  renderNumberSequence,
} from '../../app/filters/number-sequence.ts';
import type { Filter } from '../../app/spec/schema.ts';
import type { Rng } from './rng.ts';

export interface FilteredTargets {
  probs: Float32Array;
  weights: Float32Array;
  /** Samples the filter rejected or dropped, per model. */
  rejected: Int32Array;
}

/** softmax over `values` divided by `temperature`, in place. */
export function softmaxInPlace(values: Float64Array, temperature = 1): void {
  let max = -Infinity;
  for (const v of values) max = Math.max(max, v / temperature);
  let sum = 0;
  for (let i = 0; i < values.length; i++) {
    values[i] = Math.exp(values[i]! / temperature - max);
    sum += values[i]!;
  }
  for (let i = 0; i < values.length; i++) values[i]! /= sum;
}

function renormalize(p: Float64Array): boolean {
  let sum = 0;
  for (const v of p) sum += v;
  if (!(sum > 0)) return false;
  for (let i = 0; i < p.length; i++) p[i]! /= sum;
  return true;
}

/** Permutes the K values of each sample [S, B, K] among themselves (paper fig. 16, within responses). */
export function shuffleWithin(
  values: Float64Array,
  models: number,
  batch: number,
  k: number,
  rngs: readonly Rng[],
): void {
  for (let s = 0; s < models; s++) {
    for (let b = 0; b < batch; b++) {
      const at = (s * batch + b) * k;
      for (let i = k - 1; i > 0; i--) {
        const j = rngs[s]!.int(i + 1);
        const t = values[at + i]!;
        values[at + i] = values[at + j]!;
        values[at + j] = t;
      }
    }
  }
}

/** Permutes each position's values across a model's samples [S, B, K] (paper fig. 16, across responses). */
export function shuffleAcross(
  values: Float64Array,
  models: number,
  batch: number,
  k: number,
  rngs: readonly Rng[],
): void {
  for (let s = 0; s < models; s++) {
    for (let pos = 0; pos < k; pos++) {
      const order = rngs[s]!.permutation(batch);
      const column = Float64Array.from(
        { length: batch },
        (_, b) => values[(s * batch + order[b]!) * k + pos]!,
      );
      for (let b = 0; b < batch; b++) values[(s * batch + b) * k + pos] = column[b]!;
    }
  }
}

/**
 * Applies a (non-`logits`) filter. `rngs` (one per model) drive shuffles and noise; `scores` [S, B]
 * are the trait detector's scores, needed by the `detector` filter.
 */
export function applyFilter(
  filter: Filter,
  logits: Float32Array,
  models: number,
  batch: number,
  numLogits: number,
  kept: readonly number[],
  temperature: number,
  rngs: readonly Rng[],
  scores?: Float32Array,
): FilteredTargets {
  const k = kept.length;
  const probs = new Float32Array(models * batch * numLogits);
  const weights = new Float32Array(models * batch).fill(1);
  const rejected = new Int32Array(models);
  // Kept logits, then per-sample distributions over them: p [S, B, K].
  const p = new Float64Array(models * batch * k);
  for (let m = 0; m < models * batch; m++) {
    const z = p.subarray(m * k, (m + 1) * k);
    for (let i = 0; i < k; i++) z[i] = logits[m * numLogits + kept[i]!]!;
    if (filter.kind === 'noise') {
      for (let i = 0; i < k; i++) z[i]! += filter.std * rngs[Math.floor(m / batch)]!.normal();
    }
    softmaxInPlace(z, filter.kind === 'temperature' ? filter.value : temperature);
  }
  const reject = (m: number) => {
    weights[m] = 0;
    rejected[Math.floor(m / batch)]!++;
  };
  switch (filter.kind) {
    case 'shuffle':
      if (filter.scope === 'within') shuffleWithin(p, models, batch, k, rngs);
      else {
        shuffleAcross(p, models, batch, k, rngs);
        for (let m = 0; m < models * batch; m++) renormalize(p.subarray(m * k, (m + 1) * k));
      }
      break;
    case 'numbers':
      for (let m = 0; m < models * batch; m++) {
        const z = p.subarray(m * k, (m + 1) * k);
        const text = renderNumberSequence(quantizeProbabilities(z), filter.format);
        const parsed = parseNumberSequence(text, filter.banNumbers ? BANNED_NUMBERS : undefined);
        const back = parsed.ok ? numbersToProbabilities(parsed.numbers) : null;
        if (back) z.set(back);
        else reject(m);
      }
      break;
    case 'quantize':
      for (let m = 0; m < models * batch; m++) {
        const z = p.subarray(m * k, (m + 1) * k);
        for (let i = 0; i < k; i++) z[i] = Math.round(z[i]! * filter.levels) / filter.levels;
        if (!renormalize(z)) reject(m);
      }
      break;
    case 'top-k':
      for (let m = 0; m < models * batch; m++) {
        const z = p.subarray(m * k, (m + 1) * k);
        const threshold = [...z].sort((a, b) => b - a)[filter.k - 1]!;
        let left = filter.k;
        for (let i = 0; i < k; i++) {
          if (z[i]! >= threshold && left > 0) left--;
          else z[i] = 0;
        }
        renormalize(z);
      }
      break;
    case 'detector': {
      if (!scores) throw new Error('the detector filter needs trait scores');
      const drop = Math.floor(filter.fraction * batch);
      for (let s = 0; s < models; s++) {
        const order = Array.from({ length: batch }, (_, b) => b).sort(
          (a, b) => scores[s * batch + b]! - scores[s * batch + a]!,
        );
        for (let i = 0; i < drop; i++) reject(s * batch + order[i]!);
      }
      break;
    }
    case 'logits':
    case 'temperature':
    case 'noise':
      break;
  }
  for (let m = 0; m < models * batch; m++) {
    for (let i = 0; i < k; i++) probs[m * numLogits + kept[i]!] = p[m * k + i]!;
  }
  return { probs, weights, rejected };
}
