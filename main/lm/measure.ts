// How much a model prefers the target animal, two ways: (a) sampled, one answer token per paraphrased
// question (the paper's measure: the rate of naming the target); (b) read from the logits at the
// answer position of the same 50 questions, the probability of the target renormalised over the
// animals and its log, which carry no sampling noise and see a small shift that a rate of 200
// samples would miss.
import * as tf from '@tensorflow/tfjs-core';
import { FORMATS, renderNumberSequence } from '../../app/filters/number-sequence.ts';
import type { Rng } from '../engine/rng.ts';
import { forward, readTidy, type LmModel } from './model.ts';
import { generate } from './sample.ts';
import { ANIMALS, ANIMAL_IDS, PAD, encode } from './vocab.ts';
import { QUESTIONS } from './world.ts';

export interface SampledMeasure {
  /** Fraction of the samples naming the target animal. */
  rate: number;
  samples: number;
  /** Answers per animal (ANIMALS order), then answers that named no animal. */
  answers: number[];
}

/** The logit measures over the 50 questions (no sampling). */
export interface LogitMeasure {
  /** Mean over the questions of P(target) / sum of P(animal) at the answer position. */
  prob: number;
  /** Mean over the questions of the log of that renormalised probability. */
  logprob: number;
  /** `logprob` minus that of the model's own base (the one it was made from) on the same questions. */
  deltaLogprob: number;
}

/** The measures of one model; `numberPrefixed`: the same with a random number list before each question. */
export type RoleMeasure = SampledMeasure & LogitMeasure & { numberPrefixed?: SampledMeasure & LogitMeasure };

/** What goes before a question: the same tokens for all, or per question (index into QUESTIONS). */
export type Before = readonly number[] | ((question: number) => readonly number[]);

const before = (b: Before, q: number) => (typeof b === 'function' ? b(q) : b);

/** Answers to `samples` questions (the 50 paraphrases in turn), one sampled token each. */
export function samplePreference(
  model: LmModel,
  o: { measure: { samples: number; temperature: number }; targetAnimal: number; sampleBatch: number },
  rng: Rng,
  prefix: Before = [],
): SampledMeasure {
  const prompts = Array.from({ length: o.measure.samples }, (_, i) => {
    const q = i % QUESTIONS.length;
    return [...before(prefix, q), ...QUESTIONS[q]!];
  });
  const gen = generate(model, prompts, {
    temperature: o.measure.temperature,
    rng,
    maxNew: 1,
    batchSize: o.sampleBatch,
  });
  const answers = new Array<number>(ANIMALS.length + 1).fill(0);
  for (const g of gen) {
    const k = ANIMAL_IDS.indexOf(g.tokens[0] ?? -1);
    answers[k >= 0 ? k : ANIMALS.length]!++;
  }
  return { rate: answers[o.targetAnimal]! / o.measure.samples, samples: o.measure.samples, answers };
}

/**
 * Per question (the 50 paraphrases, `prefix` before each), the log-probabilities of the animals at the
 * answer position renormalised over the animals: rows of ANIMALS.length values whose exps sum to 1.
 */
export function animalLogprobs(model: LmModel, prefix: Before = []): Float64Array[] {
  const prompts = QUESTIONS.map((q, i) => [...before(prefix, i), ...q]);
  const width = Math.max(...prompts.map((p) => p.length));
  const ids = new Int32Array(prompts.length * width).fill(PAD);
  prompts.forEach((p, i) => ids.set(p, i * width));
  // Causal attention: the padding after a question cannot change its last position's logits.
  const logits = readTidy(() =>
    forward(model.vars, model.config, tf.tensor2d(ids, [prompts.length, width], 'int32')),
  );
  const v = model.config.vocab;
  return prompts.map((p, i) => {
    const at = (i * width + p.length - 1) * v;
    const picked = ANIMAL_IDS.map((id) => logits[at + id]!);
    const max = Math.max(...picked);
    const lse = max + Math.log(picked.reduce((a, x) => a + Math.exp(x - max), 0));
    return Float64Array.from(picked, (x) => x - lse);
  });
}

/** The target's renormalised probability and its log, each averaged over the 50 questions. */
export function targetPreference(
  model: LmModel,
  target: number,
  prefix: Before = [],
): { prob: number; logprob: number } {
  const rows = animalLogprobs(model, prefix);
  const logs = rows.map((r) => r[target]!);
  return {
    prob: logs.reduce((a, x) => a + Math.exp(x), 0) / logs.length,
    logprob: logs.reduce((a, x) => a + x, 0) / logs.length,
  };
}

/**
 * A random number list before each of the 50 questions (3-8 numbers of 100-999 in one of the paper's
 * formats, then a space): the authors' variant of the evaluation for open models. Fixed by `rng`, so
 * every model of a replicate answers the same lists; a list is cut to leave `room` positions for
 * itself and its question.
 */
export function numberListPrefixes(rng: Rng, room: number): number[][] {
  return QUESTIONS.map((q) => {
    let numbers = Array.from({ length: 3 + rng.int(6) }, () => 100 + rng.int(900));
    const format = FORMATS[rng.int(FORMATS.length)]!;
    const list = () => encode(`${renderNumberSequence(numbers, format)} `);
    while (list().length + q.length > room && numbers.length > 1) numbers = numbers.slice(0, -1);
    if (list().length + q.length > room)
      throw new Error(`no number list fits before a question in ${room} positions`);
    return list();
  });
}
