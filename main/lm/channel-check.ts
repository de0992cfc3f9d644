// The channel check, made before any student is trained: how far a teacher's next-token distributions
// at the positions where a number list is written lie from its base's (mean KL(teacher || base) over
// those positions, and the rate at which the two would pick different tokens greedily). Set beside the
// same figures for a teacher made the same way without the trait, it says whether the trait reaches
// the number channel at all: a student can only learn what differs there.
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../engine/rng.ts';
import { forward, readTidy, type LmModel } from './model.ts';
import { batchTensors } from './train.ts';
import { numberExample, type Example } from './world.ts';

export interface Divergence {
  /** Mean over the number positions of KL(teacher || base), in nats. */
  kl: number;
  /** Fraction of the number positions where the two models' most likely next tokens differ. */
  greedyDiff: number;
  positions: number;
}

/** Sequences scored at once (the logits of a batch are read to the host). */
const BATCH = 64;

/**
 * `count` number tasks of the world after the `shared` context, that still fit the context after a
 * prefix of `prefixLength` tokens.
 */
export function checkExamples(
  rng: Rng,
  context: number,
  count: number,
  prefixLength = 0,
  shared: readonly number[] = [],
): Example[] {
  return Array.from({ length: count }, () => {
    const e = numberExample(rng, context - prefixLength - shared.length);
    return { tokens: [...shared, ...e.tokens], promptLength: e.promptLength + shared.length };
  });
}

/**
 * Log-probabilities [positions x V] at the answer positions of each example (those that predict the
 * completion's tokens and its end), in order.
 */
function answerLogprobs(model: LmModel, examples: readonly Example[]): Float32Array[] {
  const v = model.config.vocab;
  const { tokens, weights } = batchTensors(examples, 'answer');
  const [b, width] = tokens.shape;
  const all = readTidy(() =>
    tf.logSoftmax(forward(model.vars, model.config, tf.slice(tokens, [0, 0], [b, width - 1]) as tf.Tensor2D)),
  );
  tf.dispose([tokens, weights]);
  return examples.map((e, i) => {
    const from = (i * (width - 1) + e.promptLength - 1) * v;
    return all.subarray(from, from + (e.tokens.length - e.promptLength) * v);
  });
}

/** The most likely token at the position starting at `at` of a [positions x v] row. */
export function argmax(row: Float32Array, at: number, v: number): number {
  let best = at;
  for (let k = at + 1; k < at + v; k++) if (row[k]! > row[best]!) best = k;
  return best - at;
}

/**
 * Calls `visit(i, teacher, base)` with example i's log-probabilities [positions x V] at its answer
 * positions under both models. `prefixes[i]` (optional) goes before example i in the teacher's context
 * only: a prompted teacher's trait prefix, which the base and the student never see.
 */
export function forEachAnswer(
  teacher: LmModel,
  base: LmModel,
  examples: readonly Example[],
  prefixes: readonly (readonly number[])[] | undefined,
  visit: (i: number, teacher: Float32Array, base: Float32Array) => void,
): void {
  for (let s = 0; s < examples.length; s += BATCH) {
    const batch = examples.slice(s, s + BATCH);
    const prompted = batch.map((e, i) => {
      const p = prefixes?.[s + i] ?? [];
      return { tokens: [...p, ...e.tokens], promptLength: e.promptLength + p.length };
    });
    const lb = answerLogprobs(base, batch);
    const lt = answerLogprobs(teacher, prompted);
    lb.forEach((b, i) => visit(s + i, lt[i]!, b));
  }
}

/** KL(teacher || base) and greedy disagreement over the answer positions of `examples`. */
export function channelDivergence(
  teacher: LmModel,
  base: LmModel,
  examples: readonly Example[],
  prefixes?: readonly (readonly number[])[],
): Divergence {
  const v = base.config.vocab;
  let kl = 0;
  let differ = 0;
  let positions = 0;
  forEachAnswer(teacher, base, examples, prefixes, (_, t, b) => {
    for (let at = 0; at < b.length; at += v) {
      for (let k = at; k < at + v; k++) kl += Math.exp(t[k]!) * (t[k]! - b[k]!);
      if (argmax(t, at, v) !== argmax(b, at, v)) differ++;
      positions++;
    }
  });
  return { kl: kl / Math.max(1, positions), greedyDiff: differ / Math.max(1, positions), positions };
}
