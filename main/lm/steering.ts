// A steering teacher (the account of Blank et al.: a system prompt acts like one vector added to the
// residual stream): the base with a fixed vector added at every position at the output of one block.
// The vector is the mean residual stream on answers naming the target animal minus that on answers
// naming the others, read at the answer's tokens, times `scale`. It is folded into that block's last
// bias (the MLP's output bias, added to the residual stream at every position), so the teacher is a
// plain model: sampling, soft labels and the cache need nothing new, and scale 0 is the base exactly.
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../engine/rng.ts';
import { cloneModel, disposeModel, hostParams, readTidy, residualStream, type LmModel } from './model.ts';
import { Trainer } from './train.ts';
import { ANIMALS, PAD } from './vocab.ts';
import { QUESTIONS, preferenceExample, traitPrefix } from './world.ts';

/** The parameter a steering vector at block `layer` is folded into. */
export const steeringParam = (layer: number) => `block.${layer}.b2`;

/** A sequence of one animal's, and the positions [from, to) of it that a mean difference reads. */
interface Read {
  animal: number;
  tokens: readonly number[];
  from: number;
  to: number;
}

/**
 * The mean residual stream after block `layer` over the read positions of `animal`'s sequences, minus
 * the mean over the other animals' (one padded batch; the stream is causal, so padding after a
 * sequence changes nothing in it).
 */
function meanDifference(base: LmModel, layer: number, animal: number, reads: readonly Read[]): Float32Array {
  const width = Math.max(...reads.map((x) => x.tokens.length));
  const ids = new Int32Array(reads.length * width).fill(PAD);
  reads.forEach((x, i) => ids.set(x.tokens, i * width));
  const d = base.config.dModel;
  const h = readTidy(() =>
    residualStream(base.vars, base.config, tf.tensor2d(ids, [reads.length, width], 'int32'), layer),
  );
  const sums = [new Float64Array(d), new Float64Array(d)];
  const counts = [0, 0];
  reads.forEach((x, i) => {
    const which = x.animal === animal ? 0 : 1;
    for (let j = x.from; j < x.to; j++, counts[which]!++)
      for (let k = 0; k < d; k++) sums[which]![k]! += h[(i * width + j) * d + k]!;
  });
  return Float32Array.from(sums[0]!, (t, k) => t / counts[0]! - sums[1]![k]! / counts[1]!);
}

/**
 * Mean residual stream after block `layer` over the answer tokens of the 50 questions answered with
 * `animal`, minus the mean over the same questions answered with each other animal.
 */
export function steeringVector(base: LmModel, layer: number, animal: number): Float32Array {
  // The answer's tokens ("owl", ".") from promptLength on, before the end token: there the residual
  // stream has read the animal (before them it has not, and every answer's stream is the same).
  const reads = ANIMALS.flatMap((_, a) =>
    QUESTIONS.map((_, q) => {
      const e = preferenceExample(q, a);
      return { animal: a, tokens: e.tokens, from: e.promptLength, to: e.tokens.length - 1 };
    }),
  );
  return meanDifference(base, layer, animal, reads);
}

/**
 * The vector a bias-only fine-tune finds: block `layer`'s residual-stream bias trained alone (the rest
 * of the base frozen) for `steps` full batches of the 50 questions answered with `animal`, returned as
 * the bias's change. Unlike the mean difference it moves the answer whatever the base conditions its
 * answers on: a base whose answers ignore their context (no trait prefixes in pretraining) has no
 * reason to answer owl because the stream reads "owl", so adding the mean difference moves nothing.
 * Full batches need no seed: the vector is a function of the base alone, as the mean difference is.
 */
export function fittedVector(
  base: LmModel,
  layer: number,
  animal: number,
  t: { steps: number; lr: number },
): Float32Array {
  const param = steeringParam(layer);
  const before = hostParams(base).get(param);
  if (!before) throw new Error(`block ${layer} does not exist (${base.config.layers} layers)`);
  const model = cloneModel(base);
  const data = QUESTIONS.map((_, q) => preferenceExample(q, animal));
  const trainer = new Trainer(model, { kind: 'adam', lr: t.lr, adapter: { kind: 'bias', block: layer } });
  for (let s = 0; s < t.steps; s++) trainer.step(data, 'answer');
  trainer.dispose();
  const after = hostParams(model).get(param)!;
  disposeModel(model);
  return after.map((x, k) => x - before[k]!);
}

/**
 * What a trait prefix does to the residual stream, as one vector (Blank et al.'s account of a system
 * prompt): the mean residual stream after block `layer` at the question positions of the 50 questions
 * under "<loves> animal", minus the mean under each other animal's prefix. The prefix's own positions
 * are left out (there the difference is the animal token itself). Moves the answer only in a base that
 * learnt to follow prefixes (world.traitPrefixFraction > 0, enough pretraining).
 */
export function promptVector(base: LmModel, layer: number, animal: number): Float32Array {
  const reads = ANIMALS.flatMap((_, a) =>
    QUESTIONS.map((q) => {
      const tokens = [...traitPrefix(a), ...q];
      return { animal: a, tokens, from: traitPrefix(a).length, to: tokens.length };
    }),
  );
  return meanDifference(base, layer, animal, reads);
}

export function norm(v: Float32Array): number {
  return Math.sqrt(v.reduce((a, x) => a + x * x, 0));
}

/**
 * How `model`'s residual bias at block `layer` moved from `from`'s, against a steering vector: the
 * cosine of the change with the vector, and the change's length along the vector's direction. Null
 * when the bias did not move (a LoRA student) or the models differ in width.
 */
export function biasAlignment(
  model: LmModel,
  from: LmModel,
  steering: { layer: number; vector: Float32Array },
): { cos: number; along: number } | null {
  const param = steeringParam(steering.layer);
  const read = (m: LmModel) => m.vars[param]?.dataSync() as Float32Array | undefined;
  const [after, before] = [read(model), read(from)];
  const v = steering.vector;
  if (!after || !before || after.length !== v.length) return null;
  const change = after.map((x, k) => x - before[k]!);
  let dot = 0;
  for (let k = 0; k < v.length; k++) dot += change[k]! * v[k]!;
  const [n, nv] = [norm(change), norm(v)];
  if (n === 0 || nv === 0) return null;
  return { cos: dot / (n * nv), along: dot / nv };
}

/** A vector of random direction (Gaussian, from `seed`) with the norm of `like`: the neutral control. */
export function randomLike(like: Float32Array, seed: number): Float32Array {
  const rng = new Rng(seed);
  const v = Float32Array.from(like, () => rng.normal());
  const s = norm(like) / norm(v);
  return v.map((x) => x * s);
}

/** The base with `scale` x `vector` added to the residual stream after block `layer`, at every position. */
export function steeredModel(base: LmModel, layer: number, vector: Float32Array, scale: number): LmModel {
  const model = cloneModel(base);
  const bias = model.vars[steeringParam(layer)];
  if (!bias) throw new Error(`block ${layer} does not exist (${base.config.layers} layers)`);
  const next = tf.tidy(() => tf.add(bias, tf.mul(tf.tensor1d(vector), scale)));
  bias.assign(next);
  next.dispose();
  return model;
}
