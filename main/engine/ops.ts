// Matmuls for the two parameter layouts of a StackedModel.
// wasm: TF.js's BatchMatMul, and MatMul with transpose flags (which its default gradient uses), run
// at ~2-3 GFLOP/s there, while a plain 2-D MatMul goes through XNNPACK at ~40 GFLOP/s. So on wasm
// each model is a list of 2-D layers with their own gradient: its matmuls run through the native
// BLAS when it is there, else XNNPACK with explicit transposes (blas-matmul.ts), and the bias
// gradient's column sum is our own kernel (wasm-kernels.ts).
import * as tf from '@tensorflow/tfjs-core';
import { affine2d, matMul2d } from './blas-matmul.ts';
import { columnSum } from './wasm-kernels.ts';

export type Layout = 'batched' | 'per-model';

export function layoutFor(backend: string): Layout {
  return backend === 'wasm' ? 'per-model' : 'batched';
}

type GradArgs = (tf.Tensor | tf.GradSaveFunc)[];

/**
 * a [m, k] x w [k, n] + b [n] -> [m, n] with its gradient, the bias's by `biasGrad` (the sum of dy's
 * rows): our column-sum kernel here, a BLAS product in the language model's fused path.
 */
export function linearLayer(
  biasGrad: (dy: tf.Tensor2D) => tf.Tensor1D,
): (a: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D) => tf.Tensor2D {
  return tf.customGrad((...args: GradArgs) => {
    const [a, w, b, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
    save([a, w]);
    return {
      value: affine2d(a, w, b),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sa, sw] = saved as [tf.Tensor2D, tf.Tensor2D];
        const g = dy as tf.Tensor2D;
        return [matMul2d(g, sw, false, true), matMul2d(sa, g, true, false), biasGrad(g)];
      },
    };
  }) as (a: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D) => tf.Tensor2D;
}

const linearWithInputGrad = linearLayer(columnSum);

/** Gradients for w and b only: for a first layer, d(input) would be a [B, 784] matmul thrown away. */
function linearConstantInput(a: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D): tf.Tensor2D {
  const f = tf.customGrad((...args: GradArgs) => {
    const [w2, b2, save] = args as [tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
    // `a` is saved, not captured: it may be created inside the loss function, whose tensors are
    // disposed after the forward pass unless the tape keeps them.
    save([a]);
    return {
      value: affine2d(a, w2, b2),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const g = dy as tf.Tensor2D;
        return [matMul2d(saved[0] as tf.Tensor2D, g, true, false), columnSum(g)];
      },
    };
  }) as (w: tf.Tensor2D, b: tf.Tensor1D) => tf.Tensor2D;
  return f(w, b);
}

/** a [m, k] x w [k, n] + b [n] with a forward and backward that run fast on wasm. */
export function linear2d(a: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D, constantA: boolean): tf.Tensor2D {
  return constantA ? linearConstantInput(a, w, b) : linearWithInputGrad(a, w, b);
}
