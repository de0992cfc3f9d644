// Per-model losses of a stack: each returns [S], the batch mean for each model.
import * as tf from '@tensorflow/tfjs-core';

/** Cross-entropy on the class logits only; auxiliary logits never enter the teacher's loss. */
export function classCrossEntropy(logits: tf.Tensor3D, labels: tf.Tensor2D, classes: number): tf.Tensor1D {
  return tf.tidy(() => {
    const classLogits = tf.slice(logits, [0, 0, 0], [-1, -1, classes]);
    const logp = tf.logSoftmax(classLogits);
    const target = tf.oneHot(labels, classes);
    return tf.neg(tf.mean(tf.sum(tf.mul(target, logp), -1), 1)) as tf.Tensor1D;
  });
}

/** Added to dropped logits: probability 0 on both sides, so no loss and no gradient there. */
const MASKED = -1e9;

/** Mask [S, 1, L] from one list of kept logit indices per model. */
export function logitMask(kept: readonly (readonly number[])[], logits: number): tf.Tensor3D {
  const data = new Float32Array(kept.length * logits).fill(MASKED);
  kept.forEach((indices, s) => indices.forEach((i) => (data[s * logits + i] = 0)));
  return tf.tensor3d(data, [kept.length, 1, logits]);
}

/**
 * Weighted KL(P || softmax(student/T)) per model: P [S, B, L] are target probabilities (zero where a
 * logit is not kept), weights [S, B] drop rejected samples; each model's loss is the weighted mean
 * over its batch. The mask keeps the student's distribution on the same logits as its targets.
 */
export function weightedKl(
  targets: tf.Tensor3D,
  student: tf.Tensor3D,
  mask: tf.Tensor3D,
  weights: tf.Tensor2D,
  temperature: number,
): tf.Tensor1D {
  return tf.tidy(() => {
    const logq = tf.logSoftmax(tf.add(tf.div(student, temperature), mask));
    // 0 * log 0 = 0: a clamped log keeps zero-probability targets out of the sum
    const logp = tf.log(tf.maximum(targets, 1e-30));
    const kl = tf.sum(tf.mul(targets, tf.sub(logp, logq)), -1); // [S, B]
    const total = tf.sum(tf.mul(kl, weights), 1);
    return tf.div(total, tf.maximum(tf.sum(weights, 1), 1)) as tf.Tensor1D;
  });
}
