// Matmuls for the two parameter layouts of a StackedModel.
// wasm: TF.js's BatchMatMul, and MatMul with transpose flags (which its default gradient uses), run
// at ~2-3 GFLOP/s there, while a plain 2-D MatMul goes through XNNPACK at ~40 GFLOP/s. So on wasm
// each model is a list of 2-D layers and the gradient uses explicit transposes.
import * as tf from '@tensorflow/tfjs-core';

export type Layout = 'batched' | 'per-model';

export function layoutFor(backend: string): Layout {
  return backend === 'wasm' ? 'per-model' : 'batched';
}

const matMulExplicitGrad = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [a, b, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
  save([a, b]);
  return {
    value: tf.matMul(a, b),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sa, sb] = saved as [tf.Tensor2D, tf.Tensor2D];
      return [tf.matMul(dy as tf.Tensor2D, tf.transpose(sb)), tf.matMul(tf.transpose(sa), dy as tf.Tensor2D)];
    },
  };
}) as (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor2D;

/** Gradient for b only: for a first layer, d(input) would be a [B, 784] matmul thrown away. */
function matMulConstantA(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [b2, save] = args as [tf.Tensor2D, tf.GradSaveFunc];
    // `a` is saved, not captured: it may be created inside the loss function, whose tensors are
    // disposed after the forward pass unless the tape keeps them.
    save([a]);
    return {
      value: tf.matMul(a, b2),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [
        tf.matMul(tf.transpose(saved[0] as tf.Tensor2D), dy as tf.Tensor2D),
      ],
    };
  }) as (b: tf.Tensor2D) => tf.Tensor2D;
  return f(b);
}

/** a [m, k] x b [k, n] with XNNPACK-friendly forward and backward. */
export function matMul2d(a: tf.Tensor2D, b: tf.Tensor2D, constantA: boolean): tf.Tensor2D {
  return constantA ? matMulConstantA(a, b) : matMulExplicitGrad(a, b);
}
