// The analyses' tensors for M models (CKA, the linear probe), as "parts": one [M, r, c] tensor on the
// batched layout, where one BatchMatMul serves every model; on wasm ('per-model') M tensors [r, c],
// because there TF.js's BatchMatMul runs ~20x slower than a 2-D matmul through XNNPACK or the native
// BLAS (see ops.ts), and its kernels that split (Unpack, Slice) or reduce over the middle axis of a
// large 3-D tensor take seconds. The math is written once for a part of either rank: rows are axis
// rank - 2, and what is per model comes out as a scalar (2-D part) or [Mk] (3-D part).
import * as tf from '@tensorflow/tfjs-core';
import { matMul2d } from './blas-matmul.ts';
import type { Layout } from './ops.ts';
import { columnSum, transpose2d } from './wasm-kernels.ts';

export type Parts = tf.Tensor[];

/** The axis of a part's rows (0 for one model's [r, c], 1 for [M, r, c]). */
export const rowAxis = (x: tf.Tensor) => x.rank - 2;

/** op(a) x op(b) for each model of a part (2-D: one matmul through the fast path; 3-D: batched). */
export function mm(a: tf.Tensor, b: tf.Tensor, transposeA = false, transposeB = false): tf.Tensor {
  if (a.rank === 2 && b.rank === 2)
    return matMul2d(a as tf.Tensor2D, b as tf.Tensor2D, transposeA, transposeB);
  return tf.matMul(a as tf.Tensor3D, b as tf.Tensor3D, transposeA, transposeB);
}

/** Column means over the rows, rows kept as 1: [1, c] or [M, 1, c]. */
export function rowMean(x: tf.Tensor): tf.Tensor {
  return tf.div(rowSum(x), x.shape[rowAxis(x)]!);
}

/** The models in `order` (may repeat): gathered from one 3-D part, or the per-model parts themselves (shared). */
export function pickModels(parts: Parts, order: readonly number[]): Parts {
  if (parts.length === 1 && parts[0]!.rank === 3)
    return [tf.gather(parts[0]!, tf.tensor1d(Int32Array.from(order), 'int32'))];
  return order.map((i) => parts[i]!);
}

/** f over the parts of each input, zipped; its per-model results (scalars or [Mk]) as one [M]. */
export function perModel(inputs: Parts[], f: (...xs: tf.Tensor[]) => tf.Tensor): tf.Tensor1D {
  return tf.tidy(() => {
    const outs = inputs[0]!.map((_, k) => tf.reshape(f(...inputs.map((p) => p[k]!)), [-1]));
    return (outs.length === 1 ? outs[0]! : tf.concat(outs)) as tf.Tensor1D;
  });
}

/** Each input's parts mapped by f, zipped (a new Parts). */
export function mapParts(inputs: Parts[], f: (...xs: tf.Tensor[]) => tf.Tensor): Parts {
  return inputs[0]!.map((_, k) => f(...inputs.map((p) => p[k]!)));
}

/** Chunks of the same models' rows (e.g. images taken in chunks), concatenated along the rows. */
export function concatRows(chunks: Parts[]): Parts {
  if (chunks.length === 1) return chunks[0]!;
  return chunks[0]!.map((part, k) =>
    tf.concat(
      chunks.map((c) => c[k]!),
      rowAxis(part),
    ),
  );
}

/** Models in all the parts. */
export const modelCount = (parts: Parts) => parts.reduce((n, p) => n + (p.rank === 3 ? p.shape[0]! : 1), 0);

/** Column sums over the rows, rows kept as 1: [1, c] or [M, 1, c]. */
export function rowSum(x: tf.Tensor): tf.Tensor {
  // 2-D: our column-sum kernel on wasm (TF.js's Sum over axis 0 transposes first).
  if (x.rank === 2) return tf.reshape(columnSum(x as tf.Tensor2D), [1, -1]);
  return tf.sum(x, 1, true);
}

/** Each model's matrix transposed: [c, r] or [M, c, r]. */
export function transposeMats(x: tf.Tensor): tf.Tensor {
  return x.rank === 2 ? transpose2d(x as tf.Tensor2D) : tf.transpose(x, [0, 2, 1]);
}

/** x [M, r, c] as parts for `layout` (per-model: split, which is slow on wasm for large x). */
export function toParts(x: tf.Tensor3D, layout: Layout): Parts {
  return layout === 'batched' ? [x] : tf.unstack(x);
}
