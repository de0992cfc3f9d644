// Batched matmul for attention, [N, m, k] x [N, k, n], with its gradient. On wasm TF.js's BatchMatMul
// runs at ~1 GFLOP/s for attention's small matrices (half of a training step's time at the default
// size); with the optional native BLAS (main/engine/native-blas.ts) one kernel call loops sgemm over
// the batch on views of the wasm heap, with transposes as BLAS flags. Elsewhere: tf.matMul.
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { nativeBlas, type NativeBlas } from '../engine/native-blas.ts';

const KERNEL = 'SublabLmBatchMatMul';
let registered = false;

function kernel(blas: NativeBlas): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const wasm = backend as BackendWasm;
    const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const { transposeA, transposeB } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
    const [batch, a1, a2] = a.shape as [number, number, number];
    const [, b1, b2] = b.shape as [number, number, number];
    const [m, k] = transposeA ? [a2, a1] : [a1, a2];
    const n = transposeB ? b1 : b2;
    const out = wasm.makeOutput([batch, m, n], 'float32');
    // Views after makeOutput: an allocation may grow the heap and detach earlier ones.
    const c = wasm.typedArrayFromHeap(out) as Float32Array;
    const av = wasm.typedArrayFromHeap(a) as Float32Array;
    const bv = wasm.typedArrayFromHeap(b) as Float32Array;
    const sa = a1 * a2;
    const sb = b1 * b2;
    const sc = m * n;
    for (let i = 0; i < batch; i++) {
      blas.sgemm(
        transposeA,
        transposeB,
        m,
        n,
        k,
        av.subarray(i * sa, (i + 1) * sa),
        bv.subarray(i * sb, (i + 1) * sb),
        c.subarray(i * sc, (i + 1) * sc),
        false,
      );
    }
    return out;
  };
}

function blasActive(): boolean {
  if (tf.getBackend() !== 'wasm') return false;
  const state = nativeBlas();
  if (!state.ok) return false;
  if (!registered) {
    registered = true;
    tf.registerKernel({ kernelName: KERNEL, backendName: 'wasm', kernelFunc: kernel(state.addon) });
  }
  return true;
}

function raw(a: tf.Tensor3D, b: tf.Tensor3D, transposeA: boolean, transposeB: boolean): tf.Tensor3D {
  if (blasActive() && a.dtype === 'float32' && b.dtype === 'float32')
    return tf.engine().runKernel(KERNEL, { a, b }, { transposeA, transposeB }) as tf.Tensor3D;
  return tf.matMul(a, b, transposeA, transposeB);
}

type GradArgs = (tf.Tensor | tf.GradSaveFunc)[];

// C = A B: dA = dC B^T, dB = A^T dC.
const plain = tf.customGrad((...args: GradArgs) => {
  const [a, b, save] = args as [tf.Tensor3D, tf.Tensor3D, tf.GradSaveFunc];
  save([a, b]);
  return {
    value: raw(a, b, false, false),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sa, sb] = saved as [tf.Tensor3D, tf.Tensor3D];
      return [raw(dy as tf.Tensor3D, sb, false, true), raw(sa, dy as tf.Tensor3D, true, false)];
    },
  };
}) as (a: tf.Tensor3D, b: tf.Tensor3D) => tf.Tensor3D;

// C = A B^T: dA = dC B, dB = dC^T A.
const transposedB = tf.customGrad((...args: GradArgs) => {
  const [a, b, save] = args as [tf.Tensor3D, tf.Tensor3D, tf.GradSaveFunc];
  save([a, b]);
  return {
    value: raw(a, b, false, true),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sa, sb] = saved as [tf.Tensor3D, tf.Tensor3D];
      return [raw(dy as tf.Tensor3D, sb, false, false), raw(dy as tf.Tensor3D, sa, true, false)];
    },
  };
}) as (a: tf.Tensor3D, b: tf.Tensor3D) => tf.Tensor3D;

/** a [N, m, k] x b [N, k, n] (or b^T for b [N, n, k] with `transposeB`), differentiable. */
export function bmm(a: tf.Tensor3D, b: tf.Tensor3D, transposeB = false): tf.Tensor3D {
  return transposeB ? transposedB(a, b) : plain(a, b);
}
