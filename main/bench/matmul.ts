// `npm run bench -- --matmul`: GFLOP/s of one process's linear-layer matmuls at the paper's shapes
// (MLP 784-256-256-13, batch 1024), forward and backward, through the native BLAS and through
// XNNPACK (TF.js wasm), in this process, on one core's worth of threads each.
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../engine/backend.ts';
import { matMul2d } from '../engine/blas-matmul.ts';
import { describeMatmul, nativeBlas } from '../engine/native-blas.ts';
import { transpose2d } from '../engine/wasm-kernels.ts';

interface Shape {
  what: string;
  m: number;
  n: number;
  k: number;
  transposeA: boolean;
  transposeB: boolean;
}

const B = 1024;
/** Each layer's forward (a w), weight gradient (aᵀ g) and input gradient (g wᵀ; none for layer 1). */
export const PAPER_SHAPES: Shape[] = [
  [784, 256],
  [256, 256],
  [256, 13],
].flatMap(([fanIn, fanOut], l) => [
  { what: `layer ${l + 1} forward`, m: B, n: fanOut!, k: fanIn!, transposeA: false, transposeB: false },
  { what: `layer ${l + 1} dW = aᵀ g`, m: fanIn!, n: fanOut!, k: B, transposeA: true, transposeB: false },
  ...(l > 0
    ? [{ what: `layer ${l + 1} dA = g wᵀ`, m: B, n: fanIn!, k: fanOut!, transposeA: false, transposeB: true }]
    : []),
]);

export interface MatmulRow extends Shape {
  blasGflops: number | null;
  xnnpackGflops: number;
  /** XNNPACK with the explicit transposes the fallback path adds (wasm-kernels.ts). */
  xnnpackWithTransposesGflops: number;
}

/** The median seconds of `f` over enough calls to fill ~0.3 s, after two warm-up calls. */
function seconds(f: () => tf.Tensor): number {
  for (let i = 0; i < 2; i++) f().dispose();
  const times: number[] = [];
  const until = performance.now() + 300;
  while (times.length < 5 || (performance.now() < until && times.length < 200)) {
    const t = performance.now();
    f().dispose();
    times.push((performance.now() - t) / 1000);
  }
  return times.sort((a, b) => a - b)[times.length >> 1]!;
}

export async function matmulBench(): Promise<{ matmul: string; rows: MatmulRow[] }> {
  await initBackend('wasm');
  const blas = nativeBlas().ok;
  const rows = PAPER_SHAPES.map((s) => {
    const a = tf.randomUniform(s.transposeA ? [s.k, s.m] : [s.m, s.k], -1, 1) as tf.Tensor2D;
    const b = tf.randomUniform(s.transposeB ? [s.n, s.k] : [s.k, s.n], -1, 1) as tf.Tensor2D;
    const a2 = s.transposeA ? transpose2d(a) : a;
    const b2 = s.transposeB ? transpose2d(b) : b;
    const gflops = (t: number) => (2 * s.m * s.n * s.k) / t / 1e9;
    const row: MatmulRow = {
      ...s,
      blasGflops: blas ? gflops(seconds(() => matMul2d(a, b, s.transposeA, s.transposeB))) : null,
      xnnpackGflops: gflops(seconds(() => tf.matMul(a2, b2))),
      xnnpackWithTransposesGflops: gflops(
        seconds(() =>
          tf.tidy(() => tf.matMul(s.transposeA ? transpose2d(a) : a, s.transposeB ? transpose2d(b) : b)),
        ),
      ),
    };
    tf.dispose([a, b, a2, b2]);
    return row;
  });
  return { matmul: describeMatmul(), rows };
}
