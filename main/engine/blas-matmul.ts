// The linear layer's matmuls on the wasm backend (ops.ts): through the native BLAS when it is
// loaded (native-blas.ts), else XNNPACK with explicit transposes (wasm-kernels.ts).
// The BLAS kernel works in place on the wasm heap, as wasm-kernels.ts does: the inputs are read and
// the output written through typedArrayFromHeap views, with no copies, and the transposes of the
// backward pass are BLAS flags instead of copies. Registered under our own name for 'wasm', so
// TF.js's MatMul stays as it is everywhere else.
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { nativeBlas, type NativeBlas } from './native-blas.ts';
import { transpose2d } from './wasm-kernels.ts';

export const BLAS_MATMUL = 'SublabBlasMatMul';

function blasKernel(blas: NativeBlas): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const wasm = backend as BackendWasm;
    const { a, b, bias } = inputs as Record<string, tf.TensorInfo | undefined>;
    const { transposeA, transposeB } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
    const [a0, a1] = a!.shape as [number, number];
    const [b0, b1] = b!.shape as [number, number];
    const [m, k] = transposeA ? [a1, a0] : [a0, a1];
    const [kb, n] = transposeB ? [b1, b0] : [b0, b1];
    if (k !== kb) throw new Error(`BLAS matmul: inner sizes differ, [${a!.shape}] x [${b!.shape}]`);
    const out = wasm.makeOutput([m, n], 'float32');
    // Views are taken after makeOutput: an allocation may grow the heap and detach earlier ones.
    const c = wasm.typedArrayFromHeap(out) as Float32Array;
    if (bias) {
      const row = wasm.typedArrayFromHeap(bias) as Float32Array;
      for (let r = 0; r < m; r++) c.set(row, r * n);
    }
    blas.sgemm(
      transposeA,
      transposeB,
      m,
      n,
      k,
      wasm.typedArrayFromHeap(a!) as Float32Array,
      wasm.typedArrayFromHeap(b!) as Float32Array,
      c,
      bias !== undefined,
    );
    return out;
  };
}

let registered = false;

/** The addon when the current backend is wasm and the addon loaded; it registers its kernel once. */
function activeBlas(): NativeBlas | null {
  if (tf.getBackend() !== 'wasm') return null;
  const state = nativeBlas();
  if (!state.ok) return null;
  if (!registered) {
    registered = true;
    tf.registerKernel({ kernelName: BLAS_MATMUL, backendName: 'wasm', kernelFunc: blasKernel(state.addon) });
  }
  return state.addon;
}

/** op(a) x op(b) for 2-D float32 tensors, op transposing when its flag is set. */
export function matMul2d(
  a: tf.Tensor2D,
  b: tf.Tensor2D,
  transposeA = false,
  transposeB = false,
): tf.Tensor2D {
  if (activeBlas() && a.dtype === 'float32' && b.dtype === 'float32')
    return tf.engine().runKernel(BLAS_MATMUL, { a, b }, { transposeA, transposeB }) as tf.Tensor2D;
  // XNNPACK runs only the plain 2-D MatMul fast; TF.js's transpose flags take a ~20x slower path.
  return tf.matMul(transposeA ? transpose2d(a) : a, transposeB ? transpose2d(b) : b);
}

/** a [m, k] x w [k, n] + bias [n]; with the addon, the bias is the product's starting value. */
export function affine2d(a: tf.Tensor2D, w: tf.Tensor2D, bias: tf.Tensor1D): tf.Tensor2D {
  if (activeBlas() && a.dtype === 'float32' && w.dtype === 'float32' && bias.dtype === 'float32')
    return tf
      .engine()
      .runKernel(BLAS_MATMUL, { a, b: w, bias }, { transposeA: false, transposeB: false }) as tf.Tensor2D;
  return tf.add(tf.matMul(a, w), bias);
}
