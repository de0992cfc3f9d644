// A linear probe: multinomial logistic regression on each model's features of labelled images, scored
// by its accuracy on other images' features. Full batch, from zero weights, a fixed number of Adam
// steps: deterministic, and the same work for every model. The models of a part train together
// (all of them on the batched layout, one after another per-model; see model-parts.ts).
// Features are standardised with the training features' per-unit mean and sd (per model), so one
// learning rate suits every layer and model; the L2 penalty (l2 / 2) ||W||² leaves the biases free.
import * as tf from '@tensorflow/tfjs-core';
import { mm, rowAxis, rowMean, transposeMats, type Parts } from './model-parts.ts';

export interface LinearProbeSettings {
  steps: number;
  learningRate: number;
  l2: number;
}

export interface ProbeData {
  /** Each model's features of the n training images: parts of [n, d] or [Mk, n, d] (model-parts.ts). */
  train: Parts;
  /** [n] class of each training image (the same images for every model). */
  trainLabels: Int32Array;
  /** The same models' features of the held-out images the accuracy is measured on, and their classes. */
  test: Parts;
  testLabels: Int32Array;
  classes: number;
}

const BETA1 = 0.9;
const BETA2 = 0.999;
const EPSILON = 1e-8;
/** Added to each unit's variance: a dead unit (constant feature) becomes 0, not NaN. */
const VARIANCE_FLOOR = 1e-6;

/** The weights (the bias as their last row) and their Adam moments. */
type AdamState = Record<'w' | 'm' | 'v', tf.Tensor>;

/** One Adam step (PyTorch's form); scalars multiply, since dividing by one broadcasts slowly on cpu. */
function adamMove(p: tf.Tensor, g: tf.Tensor, m: tf.Tensor, v: tf.Tensor, t: number, lr: number) {
  const m2 = tf.add(tf.mul(m, BETA1), tf.mul(g, 1 - BETA1));
  const v2 = tf.add(tf.mul(v, BETA2), tf.mul(tf.square(g), 1 - BETA2));
  const denom = tf.add(tf.sqrt(tf.mul(v2, 1 / (1 - BETA2 ** t))), EPSILON);
  return [tf.sub(p, tf.mul(tf.div(m2, denom), lr / (1 - BETA1 ** t))), m2, v2];
}

/** Each model's probe accuracy on the test features [M]. */
export async function linearProbeAccuracy(
  data: ProbeData,
  settings: LinearProbeSettings,
): Promise<Float32Array> {
  const out: number[] = [];
  for (let k = 0; k < data.train.length; k++) out.push(...(await fitPart(data, k, settings)));
  return Float32Array.from(out);
}

/**
 * Standardised train and test features of a part with a column of ones appended (the bias is the
 * last row of W), and the train features transposed (for Fᵀ G).
 */
function standardise(train: tf.Tensor, test: tf.Tensor): [tf.Tensor, tf.Tensor, tf.Tensor] {
  return tf.tidy(() => {
    const mean = rowMean(train);
    const centred = tf.sub(train, mean);
    const scale = tf.rsqrt(tf.add(rowMean(tf.square(centred)), VARIANCE_FLOOR));
    const withOnes = (x: tf.Tensor) =>
      tf.concat([x, tf.onesLike(tf.slice(x, 0, [...x.shape.slice(0, -1), 1]))], -1);
    const f = withOnes(tf.mul(centred, scale));
    return [f, withOnes(tf.mul(tf.sub(test, mean), scale)), transposeMats(f)];
  });
}

/** Rows of a one-hot class matrix [n, K], repeated for each model of a part ([n, K] or [Mk, n, K]). */
function oneHotTargets(labels: Int32Array, classes: number, lead: number[]): tf.Tensor {
  return tf.tidy(() => {
    // int32 then cast: TF.js's wasm OneHot with dtype float32 writes the integers' bits (1 reads as 1e-45).
    const y = tf.cast(tf.oneHot(tf.tensor1d(labels, 'int32'), classes), 'float32');
    // Full size, not broadcast: the cpu backend's broadcasting binary ops are ~10x slower.
    return lead.length === 0 ? y : tf.tile(tf.expandDims(y, 0), [lead[0]!, 1, 1]);
  });
}

/**
 * Softmax over the last axis with no broadcasting op: exp of the logits clipped to +-50 (so it cannot
 * overflow float32; a probe that far out is already certain), over their row sums, which a product
 * with a K x K matrix of ones spreads over the row.
 */
function softmaxRows(logits: tf.Tensor, ones: tf.Tensor): tf.Tensor {
  const e = tf.exp(tf.clipByValue(logits, -50, 50));
  return tf.div(e, mm(e, ones));
}

/** Trains the probes of part k's models and returns their test accuracies. */
async function fitPart(data: ProbeData, k: number, settings: LinearProbeSettings): Promise<Float32Array> {
  const [features, test, transposed] = standardise(data.train[k]!, data.test[k]!);
  const rows = features.shape[rowAxis(features)]!;
  const K = data.classes;
  const lead = features.shape.slice(0, -2); // [] or [Mk]
  const d1 = features.shape.at(-1)!; // units + the ones column
  const targets = oneHotTargets(data.trainLabels, K, lead);
  const [ones, decay] = tf.tidy(() => [
    tf.ones([...lead, K, K]),
    // l2 on the weights, none on the bias row
    tf.concat([tf.fill([...lead, d1 - 1, K], settings.l2), tf.zeros([...lead, 1, K])], -2),
  ]);
  const zeros = () => tf.zeros([...lead, d1, K]);
  let s: AdamState = { w: zeros(), m: zeros(), v: zeros() };
  try {
    for (let t = 1; t <= settings.steps; t++) {
      const next = tf.tidy(() => {
        // d(mean cross-entropy)/d(logits) = (softmax - one-hot) / n
        const g = tf.mul(tf.sub(softmaxRows(mm(features, s.w), ones), targets), 1 / rows);
        const grad = tf.add(mm(transposed, g), tf.mul(s.w, decay));
        const [w, m, v] = adamMove(s.w, grad, s.m, s.v, t, settings.learningRate);
        return { w, m, v };
      }) as AdamState;
      tf.dispose(Object.values(s));
      s = next;
    }
    const hits = tf.tidy(() => {
      const logits = mm(test, s.w);
      const predicted = tf.argMax(logits, logits.rank - 1);
      const right = tf.cast(tf.equal(predicted, tf.tensor1d(data.testLabels, 'int32')), 'float32');
      return tf.reshape(tf.mean(right, right.rank - 1), [-1]);
    });
    const accuracy = (await hits.data()) as Float32Array;
    hits.dispose();
    return accuracy;
  } finally {
    tf.dispose([...Object.values(s), features, test, transposed, targets, ones, decay]);
  }
}
