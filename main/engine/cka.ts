// Linear CKA (Kornblith et al. 2019, "Similarity of Neural Network Representations Revisited"):
// for features X [n, p] and Y [n, q] of the same n inputs, each column centred,
//   CKA(X, Y) = ||Yᵀ X||_F² / (||Xᵀ X||_F ||Yᵀ Y||_F),
// which equals HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L)) for the linear kernels K = X Xᵀ, L = Y Yᵀ
// (||Yᵀ X||_F² = <K, L>_F and ||Xᵀ X||_F = ||K||_F). It is 1 for identical features and invariant to
// orthogonal transforms and isotropic scaling of either side. The feature form costs n (p + q)²,
// the kernel form n² (p + q): layers wider than the probe set (a CNN's conv grid) use the kernel
// form, the same number. Computed for M models at once, as parts (model-parts.ts).
import * as tf from '@tensorflow/tfjs-core';
import type { Layout } from './ops.ts';
import { mapParts, mm, perModel, pickModels, rowMean, toParts, type Parts } from './model-parts.ts';

/** Each model's features minus their column means. */
export function centre(parts: Parts): Parts {
  return tf.tidy(() => mapParts([parts], (x) => tf.sub(x, rowMean(x))));
}

/** Whether layers of widths p and q on n inputs are cheaper in the kernel (n x n) form. */
export function kernelForm(n: number, p: number, q: number): boolean {
  return p + q > n;
}

/** One side of a CKA: centred features of M models, in the form the comparison uses. */
export interface CkaSide {
  /** Centred features [n, d] per model, or their linear kernels [n, n] in the kernel form. */
  mats: Parts;
  kernel: boolean;
  /** ||Xᵀ X||_F = ||X Xᵀ||_F per model [M]. */
  norm: tf.Tensor1D;
}

/** The sum of squares of each model's matrix. */
const sumSquares = (x: tf.Tensor) => tf.sum(tf.square(x), [x.rank - 2, x.rank - 1]);

/** A side from centred features (which stay the caller's). */
export function ckaSide(centred: Parts, kernel: boolean): CkaSide {
  return tf.tidy(() => {
    const mats = mapParts([centred], (x) => (kernel ? mm(x, x, false, true) : tf.clone(x)));
    // In the feature form ||xᵀx||; in the kernel form the kernel's own norm: the same number.
    const norm = perModel([mats], (m) => tf.sqrt(sumSquares(kernel ? m : mm(m, m, true, false))));
    return { mats, kernel, norm };
  });
}

/** Model i of the result is model order[i] of `side`; call inside tf.tidy (per-model parts are shared). */
export function pickSide(side: CkaSide, order: readonly number[]): CkaSide {
  return {
    mats: pickModels(side.mats, order),
    kernel: side.kernel,
    norm: tf.gather(side.norm, tf.tensor1d(Int32Array.from(order), 'int32')),
  };
}

export function disposeSide(side: CkaSide): void {
  tf.dispose([...side.mats, side.norm]);
}

/**
 * CKA of model m of `x` with model m of `y` (both in the same form) -> [M]. Constant features (every
 * unit dead) share no linear structure and have no defined CKA: they give 0, not NaN.
 */
export function ckaOfSides(x: CkaSide, y: CkaSide): tf.Tensor1D {
  if (x.kernel !== y.kernel)
    throw new Error('CKA sides must both be in the feature or both in the kernel form');
  return tf.tidy(() => {
    const hsic = perModel([x.mats, y.mats], (a, b) =>
      x.kernel ? tf.sum(tf.mul(a, b), [a.rank - 2, a.rank - 1]) : sumSquares(mm(b, a, true, false)),
    );
    const denom = tf.mul(x.norm, y.norm);
    const positive = tf.greater(denom, 0);
    return tf.where(
      positive,
      tf.div(hsic, tf.where(positive, denom, tf.onesLike(denom))),
      tf.zerosLike(hsic),
    );
  }) as tf.Tensor1D;
}

/** Linear CKA of x[m] [n, p] and y[m] [n, q] for every model m -> [M] (for tests and one-off use). */
export function linearCka(
  x: tf.Tensor3D,
  y: tf.Tensor3D,
  layout: Layout,
  kernel = kernelForm(x.shape[1], x.shape[2], y.shape[2]),
): tf.Tensor1D {
  return tf.tidy(() => {
    const a = ckaSide(centre(toParts(x, layout)), kernel);
    const b = ckaSide(centre(toParts(y, layout)), kernel);
    return ckaOfSides(a, b);
  });
}
