// Data selection on the channel (after Schrodi et al.: the signal sits at the rare positions where a
// teacher with the trait would write another token than one without it). Two levers: keep the
// completions the teacher favours most over its base (the mean, per written token, of log p_teacher
// minus log p_base), and the control that takes the divergence positions (where the teacher's and the
// base's most likely tokens differ) out of the student's loss.
import { argmax, forEachAnswer } from './channel-check.ts';
import type { LmModel } from './model.ts';
import type { Example } from './world.ts';

/**
 * Per example, the mean over its written tokens (and the end) of log p_teacher - log p_base of the token
 * written; `prefix` is before every sequence in the teacher's context only.
 */
export function completionScores(
  teacher: LmModel,
  base: LmModel,
  examples: readonly Example[],
  prefix?: readonly number[],
): Float64Array {
  const v = base.config.vocab;
  const scores = new Float64Array(examples.length);
  forEachAnswer(teacher, base, examples, prefix && examples.map(() => prefix), (i, t, b) => {
    const e = examples[i]!;
    let sum = 0;
    for (let j = 0; j < b.length / v; j++) {
      const k = j * v + e.tokens[e.promptLength + j]!;
      sum += t[k]! - b[k]!;
    }
    scores[i] = sum / (b.length / v);
  });
  return scores;
}

/** The `keep` examples of highest score (ties: the earlier first), in their original order. */
export function selectTop(examples: readonly Example[], scores: Float64Array, keep: number): Example[] {
  const order = examples.map((_, i) => i).sort((a, b) => scores[b]! - scores[a]! || a - b);
  const kept = new Set(order.slice(0, keep));
  return examples.filter((_, i) => kept.has(i));
}

/**
 * The examples with their divergence positions out of the loss: `lossMask` 0 where the teacher's most
 * likely next token differs from the base's. Returns them and the fraction of positions masked.
 */
export function maskDivergence(
  teacher: LmModel,
  base: LmModel,
  examples: readonly Example[],
  prefix?: readonly number[],
): { examples: Example[]; masked: number } {
  const v = base.config.vocab;
  const out = examples.map((e) => ({ ...e, lossMask: new Uint8Array(e.tokens.length - e.promptLength) }));
  let masked = 0;
  let positions = 0;
  forEachAnswer(teacher, base, examples, prefix && examples.map(() => prefix), (i, t, b) => {
    const mask = out[i]!.lossMask;
    for (let j = 0; j < mask.length; j++) {
      const same = argmax(t, j * v, v) === argmax(b, j * v, v);
      mask[j] = same ? 1 : 0;
      if (!same) masked++;
      positions++;
    }
  });
  return { examples: out, masked: masked / Math.max(1, positions) };
}
